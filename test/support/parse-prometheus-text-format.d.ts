// The package ships no types; what the metrics tests use of it.
declare module "parse-prometheus-text-format" {
  export interface PrometheusSample {
    /** As written: "12", "1.5e3", "+Inf". */
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
  }
  export interface PrometheusFamily {
    readonly name: string;
    readonly help: string;
    /** Upper case: GAUGE, COUNTER, UNTYPED... */
    readonly type: string;
    readonly metrics: readonly PrometheusSample[];
  }
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
