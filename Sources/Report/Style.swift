/// The page's only style sheet, inlined in `<style>`: system fonts, no web fonts or images.
let styleSheet = """
    :root { color-scheme: light; --ink: #1a1a1a; --muted: #555; --rule: #d8d8d8; --panel: #f6f6f4; --accent: #0072B2; }
    * { box-sizing: border-box; }
    body { margin: 0; color: var(--ink); background: #fff;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
    header { padding: 20px 32px 8px; border-bottom: 1px solid var(--rule); }
    header h1 { margin: 0 0 4px; font-size: 24px; }
    header p { margin: 2px 0; color: var(--muted); }
    nav { margin-top: 8px; }
    nav a { margin-right: 16px; color: var(--accent); text-decoration: none; font-weight: 600; }
    main { padding: 0 32px 48px; max-width: 1400px; }
    section { border-bottom: 1px solid var(--rule); padding: 12px 0 20px; }
    h2 { font-size: 21px; margin: 14px 0 8px; }
    h3 { font-size: 17px; margin: 18px 0 6px; }
    p { margin: 6px 0; max-width: 80em; }
    .empty { color: var(--muted); font-style: italic; background: var(--panel); padding: 8px 12px; border-radius: 4px; }
    .note { color: #7a4a00; }
    .row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
    .scroll { overflow-x: auto; max-width: 100%; }
    table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
    th, td { padding: 3px 9px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
    tr.chosen td { background: #e8f1f8; font-weight: 600; }
    caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 4px; }
    code { font: 12px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
    dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 6px 0; }
    dl.facts dt { color: var(--muted); }
    dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
    details summary { cursor: pointer; }
    svg.chart { font: 12px system-ui, -apple-system, "DejaVu Sans", sans-serif; fill: var(--ink); background: #fff; }
    svg.chart .grid { stroke: #e4e4e4; }
    svg.chart .baseline, svg.chart .tick { stroke: #444; }
    svg.chart .axis-title { font-weight: 600; }
    svg.chart .line { fill: none; stroke-width: 2; }
    svg.chart .mark line { stroke: #444; stroke-dasharray: 3 3; }
    svg.chart .bar { stroke-width: 0.6; }
    svg.chart .points use { stroke: #fff; stroke-width: 0.4; }
    .gallery { display: flex; flex-wrap: wrap; gap: 12px; }
    figure.tile { margin: 0; width: 140px; font-size: 12px; }
    figure.tile img, figure.tile svg { display: block; max-width: 128px; max-height: 128px;
                                   border: 1px solid var(--rule); }
    figure.tile figcaption { margin-top: 3px; overflow-wrap: anywhere; }
    figure.pair { margin: 0; padding: 6px; background: var(--panel); border-radius: 4px; font-size: 12px;
              max-width: 300px; }
    figure.pair .two { display: flex; gap: 6px; }
    .wrong { color: #b3261e; font-weight: 600; }
    """
