"""Writes an example clip and its mask video for the video workflows into ComfyUI's input folder.

    cd ComfyUI
    python custom_nodes/ding-inpaint/example_workflows/make_example_clip.py [--input-dir DIR] [--force]

Run it with the Python that runs ComfyUI: it needs only PyAV and numpy, which ComfyUI installs
(it does not import ComfyUI). It writes

* ``ding_video.mp4``: 97 frames of 832x480 at 16 fps (enough for every video workflow: Wan 2.1
  takes 33, Wan 2.2 5B 49, LTX-Video 97; each scales the frames to its own size), a drawn scene (sky, sun, hills) with a red
  ball rolling across it;
* ``ding_video_mask.mp4``: the same frames, white on a disc that follows the ball (what DInG
  repaints), black elsewhere;

the file names the video workflows' Load Video nodes open with. Reload the page (or press R in
ComfyUI) so the nodes list them, and prompt for the scene without the ball, e.g. "green hills
under a blue sky, a sunny day, cartoon". The input folder is ``ComfyUI/input`` (found from this
file's place in ``ComfyUI/custom_nodes/<pack>/example_workflows/``); give ``--input-dir`` when
ComfyUI runs with ``--input-directory``. Existing files are kept unless ``--force``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

VIDEO, MASK = "ding_video.mp4", "ding_video_mask.mp4"  # the video workflows' placeholder names
WIDTH, HEIGHT, FRAMES, FPS = 832, 480, 97, 16


def frames(width: int = WIDTH, height: int = HEIGHT, count: int = FRAMES):
    """(clip, mask): uint8 arrays [count, height, width, 3]; the mask is 0 or 255."""
    import numpy as np
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([120 + 60 * y / height, 170 + 40 * y / height, np.full_like(y, 230)], -1)
    scene = sky.copy()
    sun = (x - 0.78 * width) ** 2 + (y - 0.2 * height) ** 2 < (0.07 * height) ** 2
    scene[sun] = (250, 220, 110)
    ground = y > height * (0.62 - 0.08 * np.sin(x / width * 3.0))
    scene[ground] = np.stack([70 + 20 * np.sin(x / 23.0), 140 + 25 * (y / height), 60 + 0 * x], -1)[ground]
    clip = np.empty((count, height, width, 3), np.uint8)
    mask = np.zeros((count, height, width, 3), np.uint8)
    r = 0.09 * height
    for t in range(count):
        cx = width * (0.15 + 0.7 * t / max(count - 1, 1))
        cy = height * 0.7 - r
        ball = (x - cx) ** 2 + (y - cy) ** 2 < r ** 2
        f = scene.copy()
        f[ball] = (200, 40, 40)
        clip[t] = f.clip(0, 255).astype(np.uint8)
        mask[t][(x - cx) ** 2 + (y - cy) ** 2 < (1.4 * r) ** 2] = 255
    return clip, mask


def write_mp4(path: Path, video, fps: int = FPS) -> Path:
    """H.264 (or MPEG-4 part 2 where PyAV lacks libx264), yuv420p: what Load Video reads."""
    import av
    import numpy as np
    with av.open(str(path), mode="w") as container:
        try:
            stream = container.add_stream("libx264", rate=fps)
        except Exception:  # noqa: BLE001  (a PyAV build without libx264)
            stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = int(video.shape[2]), int(video.shape[1])
        stream.pix_fmt = "yuv420p"
        for f in video:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def default_input_dir() -> Path:
    # ComfyUI/custom_nodes/<pack>/example_workflows/make_example_clip.py -> ComfyUI/input
    return Path(__file__).resolve().parents[3] / "input"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input-dir", type=Path, default=None,
                    help="ComfyUI's input folder (default: ComfyUI/input next to custom_nodes)")
    ap.add_argument("--force", action="store_true", help="overwrite existing files of these names")
    args = ap.parse_args(argv)
    folder = args.input_dir or default_input_dir()
    if not folder.is_dir():
        print(f"no folder {folder}: give ComfyUI's input folder with --input-dir", file=sys.stderr)
        return 2
    targets = [folder / VIDEO, folder / MASK]
    kept = [p for p in targets if p.exists()]
    if kept and not args.force:
        print("kept (use --force to overwrite): " + ", ".join(str(p) for p in kept), file=sys.stderr)
        return 1
    clip, mask = frames()
    for path, video in zip(targets, (clip, mask)):
        write_mp4(path, video)
        print(f"wrote {path} ({len(video)} frames, {video.shape[2]}x{video.shape[1]}, {FPS} fps)")
    print('Reload ComfyUI (R), then prompt e.g. "green hills under a blue sky, a sunny day, cartoon".')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
