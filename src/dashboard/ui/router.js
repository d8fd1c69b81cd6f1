// Pages live in the address's fragment (#/jobs?state=dead), so that the server serves one page
// whatever path it is mounted at, and the browser's back button walks through searches.
import { useEffect, useState } from "preact/hooks";
export function currentRoute() {
  const fragment = location.hash.replace(/^#/, "");
  const [path = "", query = ""] = fragment.split("?", 2);
  try {
    return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
  } catch {
    // A malformed escape (#/jobs/%E0%A4%A): a page that says so, not a blank one.
    return { parts: ["not-found"], query: new URLSearchParams(), malformed: true };
  }
}
export function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}
/** The fragment for a page: href("jobs", "dead", "42") is "#/jobs/dead/42". */
export function href(...parts) {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}
export function navigate(fragment) {
  location.hash = fragment;
}
/**
 * Follows an in-page link without leaving the page: with a <base href> other than the page's
 * own address, the browser would resolve "#/jobs" against the base and load it anew.
 */
export function follow(event) {
  const link = event.currentTarget.getAttribute("href");
  if (!link?.startsWith("#") || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link);
}
