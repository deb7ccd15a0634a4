#!/usr/bin/python3
"""bench/compare.sh's bookkeeping: one JSON record per run, and the markdown table from all of them.

  compare_report.py record PROGRAM SETTING PHASE THREADS LOG   -> one JSON line on stdout
  compare_report.py table RESULTS.jsonl --images N --epochs E --workers W

A record joins /usr/bin/time -v's figures for the whole process (LOG.time: wall, peak RSS, CPU seconds) with
the program's own loop timings: the reference's last output line (JSON), or fergan's "step_times" record in
metrics.jsonl beside LOG (train.step_timing).
"""
import json
import os
import re
import sys


def parse_time_v(path):
    text = open(path).read()

    def field(label):
        m = re.search(re.escape(label) + r".*?:\s*(\S+)\s*$", text, re.M)
        if not m:
            sys.exit(f"compare_report: '{label}' not in {path}")
        return m.group(1)

    wall = 0.0
    for part in field("Elapsed (wall clock) time").split(":"):  # h:mm:ss or m:ss.ss
        wall = wall * 60 + float(part)
    return {"wall_s": wall, "peak_rss_mib": int(field("Maximum resident set size")) / 1024,
            "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)"))}


def record(program, setting, phase, threads, log):
    r = {"program": program, "setting": setting, "phase": phase, "threads": int(threads)}
    r.update(parse_time_v(log + ".time"))
    if program == "reference":
        last = [line for line in open(log) if line.startswith("{")][-1]
        loop = json.loads(last)["phases"][phase]
        r.update(images=loop["images"], loop_s=loop["loop_s"],
                 breakdown={"data_wait": loop["data_wait_s"], "clip": loop["clip_s"], "step": loop["step_s"]})
    else:
        metrics = os.path.join(os.path.dirname(log), "metrics.jsonl")
        times = [json.loads(line) for line in open(metrics)]
        times = [t for t in times if t.get("event") == "step_times" and t["phase"] == phase][-1]
        sections = ["data_wait", "forward", "backward", "optimizer", "comm_wait", "other"]
        r.update(images=times["images"], loop_s=times["seconds"],
                 breakdown={k: times[k + "_s"] for k in sections})
    print(json.dumps(r))


def shares(breakdown, total):
    return " / ".join(f"{100 * v / total:.0f}" for v in breakdown.values())


def table(path, images, epochs, workers):
    rows = [json.loads(line) for line in open(path)]
    flops = next(r["result"] for r in rows if r["program"] == "flops")
    sgemm = {r["result"]["threads"]: r["result"]["sgemm_gflops"] for r in rows if r["program"] == "sgemm"}
    runs = [r for r in rows if r["program"] in ("reference", "fergan")]
    print(f"{images} FER2013 train images, {epochs} epoch(s) per GAN, config/original.yaml (64x64, batch 32); "
          f"reference DataLoader workers: {workers}.\n")
    print("| setting | phase | threads ref / fergan | img/s ref | img/s fergan | fergan / ref "
          "| peak RSS MiB ref | peak RSS MiB fergan | RSS fergan / ref | CPU s ref / fergan | img per CPU-s fergan / ref "
          "| GFLOP per image | fergan GFLOP/s | sgemm GFLOP/s | fergan / sgemm "
          "| fergan loop % data / fwd / bwd / opt / comm / other | ref loop % data / CLIP / step |")
    print("|" + "---|" * 17)
    seen = []
    for r in runs:
        if (r["setting"], r["phase"]) not in seen:
            seen.append((r["setting"], r["phase"]))
    for setting, phase in seen:
        ref = next(r for r in runs if r["program"] == "reference" and r["setting"] == setting and r["phase"] == phase)
        fg = next(r for r in runs if r["program"] == "fergan" and r["setting"] == setting and r["phase"] == phase)
        ips = {k: x["images"] / x["wall_s"] for k, x in (("ref", ref), ("fg", fg))}
        loop = {k: x["images"] / x["loop_s"] for k, x in (("ref", ref), ("fg", fg))}
        step_flops = flops[phase]["step"]
        achieved = step_flops * loop["fg"] / 1e9
        peak = sgemm.get(fg["threads"])
        print(f"| {setting} | {phase} | {ref['threads']} / {fg['threads']} "
              f"| {ips['ref']:.1f} ({loop['ref']:.1f}) | {ips['fg']:.1f} ({loop['fg']:.1f}) "
              f"| {ips['fg'] / ips['ref']:.2f}x ({loop['fg'] / loop['ref']:.2f}x) "
              f"| {ref['peak_rss_mib']:.0f} | {fg['peak_rss_mib']:.0f} | {fg['peak_rss_mib'] / ref['peak_rss_mib']:.2f} "
              f"| {ref['cpu_s']:.0f} / {fg['cpu_s']:.0f} | {ref['cpu_s'] / fg['cpu_s']:.2f}x "
              f"| {step_flops / 1e9:.3f} | {achieved:.1f} | {peak:.1f} | {100 * achieved / peak:.0f}% "
              f"| {shares(fg['breakdown'], fg['loop_s'])} | {shares(ref['breakdown'], ref['loop_s'])} |")
    print("\nimg/s: images / whole-process wall time (in brackets: over the training loop alone). "
          "GFLOP/s: fergan's counted step FLOPs (fergan_flops) x its loop images/s. sgemm: bench_sgemm at fergan's "
          "thread count, in the same run. CPU s: user + system of the whole process (workers included); on a shared "
          "machine images per CPU-second compare the programs' work more fairly than wall time.")


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "record":
        record(*sys.argv[2:])
    elif len(sys.argv) == 9 and sys.argv[1] == "table":
        opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        table(sys.argv[2], opts["--images"], opts["--epochs"], opts["--workers"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
