#!/usr/bin/env python3
"""Checks every relative link and image of README.md and docs/*.md: the file must exist and, for a
`#fragment`, the target must have a heading of that GitHub anchor. Web links are not fetched.
Prints each broken link as FILE:LINE: TARGET (why) and exits 1 if there is one.

    python3 scripts/check_links.py
"""
import os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"")


def anchors(path):
    """GitHub's heading anchors: lower case, punctuation but - and _ dropped, spaces to -, repeats numbered."""
    seen, out = {}, set()
    fence = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        if fence or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def main():
    files = [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
    broken = checked = 0
    for path in files:
        fence = False
        for number, line in enumerate(open(path, encoding="utf-8"), 1):
            if line.startswith("```"):
                fence = not fence
            if fence:
                continue
            for m in LINK.finditer(line):
                target = m.group(1) or m.group(2)
                if re.match(r"^[a-z]+:", target):
                    continue
                checked += 1
                file, _, fragment = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
                why = None
                if not os.path.exists(resolved):
                    why = "no such file"
                elif fragment and resolved.endswith(".md") and fragment not in anchors(resolved):
                    why = f"no heading #{fragment}"
                if why:
                    broken += 1
                    print(f"{os.path.relpath(path, ROOT)}:{number}: {target} ({why})")
    print(f"check_links: {checked} links in {len(files)} files, {broken} broken", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
