#!/usr/bin/env python3
"""Makes docs/report.png: a whole-page screenshot of a `tlearn report` page in headless Chromium,
trimmed to the page's content, scaled and reduced to 256 colours so it stays under 500 KB.
Needs the Debian `chromium` package and Pillow (`pip install pillow`).

    python3 scripts/report_screenshot.py report.html docs/report.png [--scale 0.7]
"""
import argparse, os, subprocess, tempfile
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument("page")
ap.add_argument("out")
ap.add_argument("--scale", type=float, default=0.7)
ap.add_argument("--width", type=int, default=1280)
ap.add_argument("--height", type=int, default=8000, help="window height: more than the page is tall")
a = ap.parse_args()

with tempfile.TemporaryDirectory() as tmp:
    shot = os.path.join(tmp, "shot.png")
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp}/profile", f"--window-size={a.width},{a.height}", f"--screenshot={shot}",
                    "file://" + os.path.abspath(a.page)], check=True, stderr=subprocess.DEVNULL)
    image = Image.open(shot).convert("RGB")

# Trim the white below the last row that has any ink.
grey = image.convert("L")
bottom = max((y for y in range(grey.height - 1, -1, -1) if grey.crop((0, y, grey.width, y + 1)).getextrema()[0] < 250),
             default=grey.height - 1)
image = image.crop((0, 0, image.width, min(image.height, bottom + 24)))
image = image.resize((round(image.width * a.scale), round(image.height * a.scale)), Image.LANCZOS)
image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(a.out, optimize=True)
print(f"{a.out}: {image.width}x{image.height}, {os.path.getsize(a.out) // 1024} KB")
