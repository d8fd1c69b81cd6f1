import { pgTable, serial, text } from "drizzle-orm/pg-core";

/** The adapter suite's business table, as Drizzle sees it. */
export const orders = pgTable("orders", {
  id: serial("id").primaryKey(),
  note: text("note").notNull(),
});
