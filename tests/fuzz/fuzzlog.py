#!/usr/bin/env python3
"""fuzzlog.py -- append fuzz runs to doc/fuzzing.md and recompute its summary (run by run-fuzz.sh).

Usage: printf '| date | target | seconds | executions | findings | machine | commit |\\n' | fuzzlog.py doc/fuzzing.md

The file keeps every run as a row of the table under "## Runs" (the last
table of the file). The table between the summary markers is rewritten from
those rows: per target, the seconds run clean since its last finding, all
seconds and executions, the last finding's date and the last run's date.
"""
import re
import sys

BEGIN, END = "<!-- summary:begin -->", "<!-- summary:end -->"
HEAD = "| date | target | seconds | executions | findings | machine | commit |"


def main():
    path = sys.argv[1]
    new = [l.rstrip("\n") for l in sys.stdin if l.startswith("|")]
    try:
        text = open(path).read()
    except FileNotFoundError:
        text = "# Fuzzing\n\n## Clean time per target\n\n%s\n%s\n\n## Runs\n\n%s\n|---|---|---:|---:|---:|---|---|\n" % (
            BEGIN, END, HEAD)
    if not text.endswith("\n"):
        text += "\n"
    text += "".join(l + "\n" for l in new)
    runs = text.split("## Runs", 1)[1] if "## Runs" in text else text
    per = {}
    for line in runs.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not re.match(r"\d{4}-\d\d-\d\d$", cells[0]):
            continue
        date, target, secs, execs, found = cells[0], cells[1], int(cells[2] or 0), int(cells[3] or 0), int(cells[4] or 0)
        t = per.setdefault(target, {"clean": 0, "secs": 0, "execs": 0, "last_find": "never", "last": date})
        t["secs"] += secs
        t["execs"] += execs
        t["last"] = date
        if found:
            t["clean"] = 0
            t["last_find"] = date
        else:
            t["clean"] += secs
    table = ["| target | clean since last finding | total time | total executions | last finding | last run |",
             "|---|---:|---:|---:|---|---|"]

    def hms(s):
        return "%d h %02d min" % (s // 3600, s % 3600 // 60) if s >= 3600 else "%d min %02d s" % (s // 60, s % 60)
    for name in sorted(per):
        t = per[name]
        table.append("| %s | %s | %s | %d | %s | %s |" % (name, hms(t["clean"]), hms(t["secs"]), t["execs"],
                                                          t["last_find"], t["last"]))
    a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
    text = text[:a] + "\n" + "\n".join(table) + "\n" + text[b:]
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
