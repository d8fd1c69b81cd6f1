const plainKey = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A JavaScript access path into a payload, as error messages show it: `payload.items[2]["odd key"]`. */
export function formatPath(root: string, path: readonly (string | number)[]): string {
  let text = root;
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += plainKey.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`;
  }
  return text;
}
