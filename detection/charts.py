"""A per-frame score chart drawn as SVG on the server: no chart library, works offline."""

from dataclasses import dataclass

# Room around the plot for axis labels at the larger size phones get (see .chart__label in app.css).
WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 640, 200, 74, 14, 14, 38


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    index: int
    timestamp: float
    probability: float


def score_chart(frames, duration: float) -> dict:
    span = max(duration, max((f.timestamp for f in frames), default=0.0), 1e-6)
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    points = [
        ChartPoint(
            x=round(PAD_LEFT + plot_w * (f.timestamp / span), 1),
            y=round(PAD_TOP + plot_h * (1 - f.probability_fake), 1),
            index=f.index, timestamp=f.timestamp, probability=f.probability_fake,
        )
        for f in frames
    ]
    # The first and last labels align with the plot's edges, so that neither sticks out of the chart.
    anchors = ["start", "middle", "middle", "middle", "end"]
    ticks = [{"x": round(PAD_LEFT + plot_w * i / 4, 1), "label": f"{span * i / 4:.1f} s", "anchor": anchors[i]}
             for i in range(5)]
    return {
        "width": WIDTH, "height": HEIGHT, "points": points,
        "polyline": " ".join(f"{p.x},{p.y}" for p in points),
        "threshold_y": PAD_TOP + plot_h * 0.5, "left": PAD_LEFT, "right": WIDTH - PAD_RIGHT,
        "top": PAD_TOP, "bottom": HEIGHT - PAD_BOTTOM, "ticks": ticks,
    }


def roc_chart(roc: dict | None, size: int = 260, pad: int = 34) -> dict | None:
    """An ROC curve as SVG coordinates, from metrics["roc"] = {"fpr": [...], "tpr": [...]}."""
    if not roc or not roc.get("fpr") or len(roc["fpr"]) != len(roc.get("tpr", [])):
        return None
    plot = size - 2 * pad
    points = " ".join(
        f"{pad + plot * fpr:.1f},{pad + plot * (1 - tpr):.1f}" for fpr, tpr in zip(roc["fpr"], roc["tpr"])
    )
    return {"size": size, "pad": pad, "plot": plot, "end": size - pad, "points": points}


@dataclass(frozen=True)
class StillBox:
    """One face's box over a photo, in percent of its size, so the page's CSS overlay scales with it."""

    index: int
    number: int  # shown to people, from 1
    left: float
    top: float
    width: float
    height: float
    probability: float


def still_boxes(frames, width: int, height: int) -> list[StillBox]:
    def percent(value: float, whole: int) -> float:
        return round(100 * min(max(value / max(whole, 1), 0.0), 1.0), 3)

    return [
        StillBox(index=f.index, number=f.index + 1, left=percent(f.box["x"], width), top=percent(f.box["y"], height),
                 width=percent(f.box["width"], width), height=percent(f.box["height"], height),
                 probability=f.probability_fake)
        for f in frames
    ]
