#!/usr/bin/env python3
"""Checks deploy/kubernetes/extract-job.yaml and prints its container's shell script as the pod runs it.

    python3 scripts/check_k8s_job.py deploy/kubernetes/extract-job.yaml > extract.sh

Loads the manifest with yaml.safe_load, checks the fields an Indexed Job of tlearn shards needs
(batch/v1 Job, completionMode Indexed, completions = parallelism = the SHARDS env value, a
restartPolicy, one container running `/bin/sh -c` with one script argument, the env the script
reads, cpu and memory requests), then applies Kubernetes' own expansion of command arguments
($$ is a literal $, $(NAME) is the container's env value) and prints the script. scripts/slurm_test.sh
runs that script for every JOB_COMPLETION_INDEX, so the manifest's command line is the tested one.
Exits 1 with one line per problem.
"""

import re
import sys

import yaml


def expand(text, env):
    """Kubernetes' expansion of $(VAR) references in command/args (k8s.io/kubernetes third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            if text[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            m = re.match(r"\(([A-Za-z_][A-Za-z0-9_.-]*)\)", text[i + 1:])
            if m:
                name = m.group(1)
                out.append(env[name] if name in env else "$(" + name + ")")
                i += 1 + m.end()
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "deploy/kubernetes/extract-job.yaml"
    with open(path) as f:
        job = yaml.safe_load(f)
    problems = []

    def need(cond, what):
        if not cond:
            problems.append(f"{path}: {what}")
        return cond

    need(isinstance(job, dict), "not a YAML mapping")
    need(job.get("apiVersion") == "batch/v1", "apiVersion must be batch/v1")
    need(job.get("kind") == "Job", "kind must be Job")
    need(isinstance(job.get("metadata", {}).get("name"), str), "metadata.name missing")
    spec = job.get("spec") or {}
    need(spec.get("completionMode") == "Indexed", "spec.completionMode must be Indexed (JOB_COMPLETION_INDEX)")
    pod = (spec.get("template") or {}).get("spec") or {}
    need(pod.get("restartPolicy") in ("OnFailure", "Never"), "template.spec.restartPolicy must be OnFailure or Never")
    containers = pod.get("containers") or []
    if not need(len(containers) == 1, "exactly one container expected"):
        sys.exit("\n".join(problems))
    c = containers[0]
    env = {e.get("name"): str(e.get("value")) for e in c.get("env") or []}
    for name in ("IMAGES", "WEIGHTS", "SHARDS_DIR", "SHARDS"):
        need(name in env, f"container env lacks {name}")
    shards = env.get("SHARDS", "")
    need(shards.isdigit() and int(shards) >= 1, f"SHARDS must be a positive integer, not {shards!r}")
    if shards.isdigit():
        need(spec.get("completions") == int(shards), f"spec.completions ({spec.get('completions')}) must equal SHARDS ({shards})")
        need(spec.get("parallelism", 1) <= int(shards), "spec.parallelism above completions")
    need(c.get("command") == ["/bin/sh", "-c"], "container command must be [/bin/sh, -c]")
    args = c.get("args") or []
    need(len(args) == 1 and isinstance(args[0], str), "container args must be one script")
    res = c.get("resources") or {}
    need("cpu" in (res.get("requests") or {}) and "memory" in (res.get("requests") or {}), "resources.requests needs cpu and memory")
    names = {v.get("name") for v in pod.get("volumes") or []}
    for m in c.get("volumeMounts") or []:
        need(m.get("name") in names, f"volumeMount {m.get('name')} has no volume")
    if problems:
        sys.exit("\n".join(problems))
    script = expand(args[0], env)
    for needle in ("tlearn extract", "--shard", "JOB_COMPLETION_INDEX", "-eq 3"):
        need(needle in script, f"the script lacks {needle!r}")
    if problems:
        sys.exit("\n".join(problems))
    sys.stdout.write(script)


if __name__ == "__main__":
    main()
