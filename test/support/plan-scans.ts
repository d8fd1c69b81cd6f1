// The scan nodes of an EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) plan, with what each read: for
// tests that a statement reads the rows it needs and not the whole table.

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

export interface ScanFigures {
  node: string;
  relation: string;
  index: string | undefined;
  /** Rows the node took from the table or index: returned, plus those its filter threw away. */
  read: number;
  loops: number;
  /** Pages of the relation and its index the node touched (shared buffers hit or read). */
  pages: number;
}

/**
 * Every node that reads a relation (the scans, not the ModifyTable node of an INSERT, UPDATE or
 * DELETE), with how many rows it read over all its loops.
 */
export function scans(node: PlanNode, found: ScanFigures[] = []): ScanFigures[] {
  if (node["Relation Name"] !== undefined && node["Node Type"] !== "ModifyTable") {
    const loops = node["Actual Loops"] ?? 0;
    const perLoop =
      (node["Actual Rows"] ?? 0) + (node["Rows Removed by Filter"] ?? 0) + (node["Rows Removed by Index Recheck"] ?? 0);
    found.push({
      node: node["Node Type"],
      relation: node["Relation Name"],
      index: node["Index Name"],
      read: Math.round(perLoop * loops),
      loops,
      pages: (node["Shared Hit Blocks"] ?? 0) + (node["Shared Read Blocks"] ?? 0),
    });
  }
  for (const child of node.Plans ?? []) scans(child, found);
  return found;
}
