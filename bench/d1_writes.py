"""D1 writes: do rows written grow with series, not with senders?

Every isolate sends its counts to the aggregator Durable Object, which writes each series'
minute row to D1 once per minute. The same traffic (SERVICES × ROUTES series, REQUESTS each) is
sent once by 1 sender and once split over 20 senders (simulated isolates: each is one batch of
its share of every series, sent by the test sender worker through the `vigil` library). The
figure is D1's own `rows_written` of the aggregator's write (`vigil_store_rows_written_total
{operation="flush"}`), and the Durable Object requests it took. Goal: 20 ÷ 1 ≤ 1.1.

A write's cost is recorded with the next write, so each measurement is: write (settle), read
the counter, send the traffic, write, write again (records it), read the counter.
"""

import http.client

from common import Worker, metric, row, sender_config, vigil_config

SERVICES = 2
ROUTES = 5
REQUESTS = 100  # per series
WRITTEN = 'vigil_store_rows_written_total{operation="flush"}'
BATCHES = "vigil_aggregator_batches_total"


def post(base, path):
    conn = http.client.HTTPConnection(base, timeout=60)
    try:
        conn.request("POST", path)
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        assert response.status == 200, f"{path} answered {response.status}: {body[:300]}"
    finally:
        conn.close()


def counter(base, series):
    try:
        return metric(base, series)
    except KeyError:
        return 0.0


def send_traffic(base, senders):
    """Every series' REQUESTS, split evenly over `senders` batches."""
    for _ in range(senders):
        for s in range(SERVICES):
            for r in range(ROUTES):
                count = REQUESTS // senders
                post(base, f"/send?service=svc{s}&route=/r{r}&count={count}&hold=1")
        post(base, "/send?count=0")  # ships this sender's batch


def measure(senders):
    # The hub flushes its own requests (these scrapes) at most hourly: they stay out of it.
    config = vigil_config({"METRICS_FLUSH_SECONDS": "3600"})
    with Worker(config, front_config=sender_config()) as fleet:
        base = fleet.base
        post(base, "/send?count=0&write=now")
        post(base, "/send?count=0&write=now")
        written, batches = counter(base, WRITTEN), counter(base, BATCHES)
        send_traffic(base, senders)
        post(base, "/send?count=0&write=now")
        post(base, "/send?count=0&write=now")
        return counter(base, WRITTEN) - written, counter(base, BATCHES) - batches


def main():
    series = SERVICES * ROUTES
    results = {}
    for senders in (1, 20):
        written, batches = measure(senders)
        results[senders] = written
        print(f"{senders} sender(s), {series} series × {REQUESTS} requests: "
              f"{written:.0f} D1 rows written, {batches:.0f} aggregator batches")
        row("d1 writes", f"D1 rows written per minute, {series} series, {senders} sender(s)",
            f"{written:.0f}", "")
    row("d1 writes", "rows written, 20 senders ÷ 1", f"{results[20] / results[1]:.2f}", "<= 1.1")


if __name__ == "__main__":
    main()
