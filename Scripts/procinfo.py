"""What the benchmark and soak scripts read about a running process from /proc."""


def rss_kib(pid):
    """The resident set size of process `pid` in KiB (VmRSS), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0
