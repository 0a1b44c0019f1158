"""The causal graph (PAG) of one sample drawn around its target as inline SVG.

Why rings: explanations are searched outward from the target through the PDS tree, so
placing nodes on rings by their skeleton distance from the target shows at a glance
why a token was (or was not) a candidate. Edge-end marks follow PAG notation: arrowhead
(>), circle (o), tail (-, drawn as a plain end).
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from html import escape

SIZE = 420
MAX_NODES = 40  # larger graphs show only rings 0-2 around the target (plus the highlighted set)


def ring_distances(edges: Sequence[tuple[int, int, str, str]], target: int) -> dict[int, int]:
    """Breadth-first skeleton distance from ``target``; unreachable nodes get max+1."""
    adj: dict[int, set[int]] = {}
    for a, b, _, _ in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    dist = {target: 0}
    queue = deque([target])
    while queue:
        u = queue.popleft()
        for v in sorted(adj.get(u, ())):
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    far = max(dist.values()) + 1
    for node in adj:
        dist.setdefault(node, far)
    return dist


def _layout(dist: Mapping[int, int], target: int) -> dict[int, tuple[float, float]]:
    c = SIZE / 2
    rings: dict[int, list[int]] = {}
    for node, d in dist.items():
        rings.setdefault(d, []).append(node)
    n_rings = max(rings) if rings else 1
    pos = {target: (c, c)}
    for d, nodes in rings.items():
        if d == 0:
            continue
        r = (SIZE / 2 - 40) * d / max(n_rings, 1)
        nodes.sort()
        for i, node in enumerate(nodes):
            angle = 2 * math.pi * i / len(nodes) - math.pi / 2 + 0.3 * d
            pos[node] = (c + r * math.cos(angle), c + r * math.sin(angle))
    return pos


def _mark(x1: float, y1: float, x2: float, y2: float, mark: str) -> str:
    """The mark at (x2, y2) on the edge from (x1, y1), drawn just outside the node circle."""
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    tx, ty = x2 - ux * 9, y2 - uy * 9
    if mark == ">":
        p1 = (tx - ux * 7 - uy * 4, ty - uy * 7 + ux * 4)
        p2 = (tx - ux * 7 + uy * 4, ty - uy * 7 - ux * 4)
        return f'<polygon points="{tx:.1f},{ty:.1f} {p1[0]:.1f},{p1[1]:.1f} {p2[0]:.1f},{p2[1]:.1f}" class="arrow"/>'
    if mark == "o":
        return f'<circle cx="{tx - ux * 3:.1f}" cy="{ty - uy * 3:.1f}" r="3" class="circ"/>'
    return ""


def graph_svg(edges: Sequence[tuple[int, int, str, str]], target: int, labels: Mapping[int, str],
              highlight: Sequence[int] = (), title: str = "") -> str:
    """SVG of the PAG: target in the centre, ``highlight`` (CLEANN's set) filled red."""
    if not edges:
        return (f'<svg class="graph" width="{SIZE}" height="60"><text x="10" y="30" class="note">'
                f'no graph edges stored for this sample</text></svg>')
    dist = ring_distances(edges, target)
    hl = set(highlight)
    hidden = 0
    if len(dist) > MAX_NODES:
        keep = {n for n, d in dist.items() if d <= 2 or n in hl}
        hidden = len(dist) - len(keep)
        dist = {n: d for n, d in dist.items() if n in keep}
        edges = [e for e in edges if e[0] in keep and e[1] in keep]
    pos = _layout(dist, target)
    parts = [f'<text x="{SIZE / 2}" y="14" text-anchor="middle" class="title">{escape(title)}</text>']
    if hidden:
        parts.append(f'<text x="{SIZE / 2}" y="28" text-anchor="middle" class="small">'
                     f'{hidden} nodes beyond distance 2 not shown</text>')
    for a, b, ma, mb in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        parts.append(f'<line x1="{xa:.1f}" y1="{ya:.1f}" x2="{xb:.1f}" y2="{yb:.1f}" class="edge"/>')
        parts.append(_mark(xb, yb, xa, ya, ma) + _mark(xa, ya, xb, yb, mb))
    for node, (x, y) in pos.items():
        cls = "target" if node == target else ("hit" if node in hl else "node")
        label = labels.get(node, str(node))
        label = label if len(label) <= 12 else label[:11] + "…"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" class="{cls}"><title>{node}: {escape(labels.get(node, ""))}'
                     f'</title></circle><text x="{x:.1f}" y="{y - 11:.1f}" text-anchor="middle" '
                     f'class="nlabel">{escape(label)}</text>')
    return f'<svg class="graph" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">{"".join(parts)}</svg>'
