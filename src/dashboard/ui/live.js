// The overview, kept current: read once, then replaced by every `overview` event that the
// server pushes on api/events (Server-Sent Events; the browser reconnects by itself).
import { useEffect, useState } from "preact/hooks";
import { loadOverview } from "./api.js";
export function useLiveOverview() {
  const [overview, setOverview] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    let closed = false;
    loadOverview().then(
      (first) => {
        if (!closed) setOverview((current) => current ?? first);
      },
      (failure) => !closed && setError(failure.message),
    );
    const events = new EventSource("api/events");
    events.addEventListener("open", () => setLive(true));
    events.addEventListener("error", () => setLive(false));
    events.addEventListener("overview", (event) => {
      try {
        setOverview(JSON.parse(event.data));
        setError(null);
        setLive(true);
      } catch {
        // A malformed event is skipped; the next one replaces it.
      }
    });
    return () => {
      closed = true;
      events.close();
    };
  }, []);
  return { overview, error, live };
}
