"""Fuzz cases for the pack's nodes: API prompts with one or two inputs made wrong, the test-only
nodes those prompts use (images, masks and latents of odd shapes, and two check nodes that read
the outputs back), and the classification of what a ComfyUI server (or the in-process harness)
did with each prompt.

Shared by bench/fuzz.py (a real ComfyUI server, 1000+ prompts) and
tests/integration/test_fuzz_subset.py (a fixed subset in-process). Case generation is
standard-library only (the bench's driver runs without torch); torch and ComfyUI are imported
inside the test nodes only.

Classes of outcome, worst first (``SEVERITY``):

* ``crash``: the server stopped answering (or died) on this prompt.
* ``server_error``: an HTTP 5xx from /prompt.
* ``silent``: the prompt succeeded but a check node found an output that breaks the kept-region
  rule (composite pixels outside mask + feather band differ from the original; KSampler latent
  cells that the noise_mask keeps differ from the input latent) or holds NaN/inf.
* ``failed_otherwise``: the run failed with a message that names no input of the failing node
  (a torch or Python error, a KeyError, ...), or failed in a node that is not ours.
* ``failed_named``: the run failed in one of our nodes with a ValueError whose message names one
  of that node's inputs.
* ``rejected``: ComfyUI's validation refused the prompt (HTTP 400 with node_errors).
* ``ok``: it ran and every check passed.
"""
from __future__ import annotations

import dataclasses
import math
import random
import re
from typing import Any, Optional

SEVERITY = ("crash", "server_error", "silent", "failed_otherwise", "failed_named", "rejected", "ok")
GOAL_ZERO = ("crash", "server_error", "silent", "failed_otherwise")

# The pack's nodes and their inputs (the names a run-time error message must name).
OUR_INPUTS = {
    "DInGInpaintEncode": ("pixels", "mask", "vae", "grow_mask_by", "mask_mode"),
    "DInGKSampler": ("model", "seed", "steps", "cfg", "scheduler", "positive", "negative", "latent_image",
                     "denoise", "variant", "obs_std", "eta", "particles"),
    "DInGKSamplerAdvanced": ("model", "seed", "steps", "cfg", "scheduler", "positive", "negative",
                             "latent_image", "denoise", "variant", "obs_std", "eta", "particles",
                             "start_at_step", "end_at_step", "observation"),
    "DInGSampler": ("variant", "obs_std", "eta", "particles", "observation"),
    "DInGComposite": ("original", "generated", "mask", "feather", "color_match"),
}

# Core nodes that run the DInG SAMPLER: its errors surface there, naming DInGSampler's inputs or the
# host node's latent.
SAMPLER_HOSTS = {"SamplerCustomAdvanced": ("latent_image", "sigmas"),
                 "SamplerCustom": ("latent_image", "sigmas")}

INT_BOUNDS = {"grow_mask_by": (0, 256), "seed": (0, 0xFFFFFFFFFFFFFFFF), "steps": (1, 10000),
              "particles": (1, 16), "start_at_step": (0, 10000), "end_at_step": (0, 10000),
              "feather": (0, 4096)}
FLOAT_BOUNDS = {"cfg": (0.0, 100.0), "denoise": (0.0, 1.0), "obs_std": (0.0, 10.0)}
COMBOS = {"mask_mode": ("hard", "soft"), "variant": ("ding1", "ding"),
          "eta": ("ddpm", "square", "default", "ddim"), "color_match": ("off", "mean-std"),
          "scheduler": ("simple", "normal", "karras", "exponential", "sgm_uniform", "beta")}
LINK_TYPES = {"pixels": "IMAGE", "original": "IMAGE", "generated": "IMAGE", "mask": "MASK", "vae": "VAE",
              "model": "MODEL", "positive": "CONDITIONING", "negative": "CONDITIONING",
              "latent_image": "LATENT", "observation": "LATENT"}
# Values that a real run may take without being slow (steps stay small on purpose).
SANE = {"grow_mask_by": (0, 1, 4, 6, 16), "seed": (0, 1, 7, 12345), "steps": (1, 2, 3, 4),
        "particles": (1, 2, 3), "feather": (0, 1, 4, 8, 16), "cfg": (1.0, 2.0, 0.0, 3.5),
        "denoise": (1.0, 0.5, 0.75), "obs_std": (0.01, 0.0, 0.1, 1.0)}


@dataclasses.dataclass
class Case:
    index: int
    kind: str              # pipeline: encode, ksampler, advanced, split, sampler, composite, video
    mutations: list        # human-readable list of what was made wrong
    prompt: dict           # API-format prompt

    @property
    def label(self) -> str:
        return f"#{self.index} {self.kind}: " + ("; ".join(self.mutations) or "(valid)")


@dataclasses.dataclass
class Models:
    ckpt: str = "fuzz_sd3.safetensors"       # tiny SD3 checkpoint (MMDiT + 16-channel TAESD)
    video_vae: Optional[str] = None          # a Wan 2.1 VAE (vae/), or None: no video cases


# --------------------------------------------------------------------------- prompt builders

def _img(w, h, batch=1, channels=3, kind="smooth", seed=0):
    return {"class_type": "DInGFuzzImage", "inputs": {"width": w, "height": h, "batch": batch,
                                                      "channels": channels, "kind": kind, "seed": seed}}


def _mask(w, h, batch=1, kind="rect", seed=0):
    return {"class_type": "DInGFuzzMask", "inputs": {"width": w, "height": h, "batch": batch, "kind": kind,
                                                     "seed": seed}}


def _base(models: Models, size, seed):
    w, h = size
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": models.ckpt}},
        "img": _img(w, h, seed=seed),
        "mask": _mask(w, h, seed=seed),
        "pos": {"class_type": "DInGFuzzConditioning", "inputs": {"seed": 1}},
        "neg": {"class_type": "DInGFuzzConditioning", "inputs": {"seed": 2}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["img", 0], "mask": ["mask", 0], "vae": ["ckpt", 2], "grow_mask_by": 4,
            "mask_mode": "hard"}},
    }


def _ks_inputs(latent, steps=2):
    return {"model": ["ckpt", 0], "seed": 3, "steps": steps, "cfg": 1.0, "scheduler": "simple",
            "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": latent, "denoise": 1.0,
            "variant": "ding1", "obs_std": 0.01, "eta": "ddpm", "particles": 1}


def _tail(p, sampled, reference, partial=False, decode=True):
    """Check the sampled latent against the reference, decode, composite and check the composite."""
    p["chk_lat"] = {"class_type": "DInGFuzzCheckLatent", "inputs": {
        "before": reference, "after": sampled, "partial": partial}}
    if decode and not partial:
        p["dec"] = {"class_type": "VAEDecode", "inputs": {"samples": sampled, "vae": ["ckpt", 2]}}
        _composite(p, ["img", 0], ["dec", 0], ["enc", 1])


def _composite(p, original, generated, mask, feather=8):
    p["comp"] = {"class_type": "DInGComposite", "inputs": {
        "original": original, "generated": generated, "mask": mask, "feather": feather, "color_match": "off"}}
    p["chk_comp"] = {"class_type": "DInGFuzzCheckComposite", "inputs": {
        "original": original, "mask": mask, "result": ["comp", 0], "feather": feather}}


def build_pipeline(kind: str, models: Models, rng: random.Random) -> dict:
    size = rng.choice([(64, 64), (64, 64), (96, 64), (72, 80), (128, 128)])
    p = _base(models, size, rng.randrange(100))
    if kind == "encode":
        p["chk_lat"] = {"class_type": "DInGFuzzCheckLatent", "inputs": {"before": ["enc", 0], "after": ["enc", 0],
                                                                       "partial": False}}
        _composite(p, ["img", 0], ["inv", 0], ["enc", 1])
        p["inv"] = {"class_type": "ImageInvert", "inputs": {"image": ["img", 0]}}
    elif kind == "ksampler":
        p["ks"] = {"class_type": "DInGKSampler", "inputs": _ks_inputs(["enc", 0])}
        _tail(p, ["ks", 0], ["enc", 0])
    elif kind == "advanced":
        p["ks"] = {"class_type": "DInGKSamplerAdvanced", "inputs": dict(_ks_inputs(["enc", 0], steps=3),
                                                                       start_at_step=0, end_at_step=10000)}
        _tail(p, ["ks", 0], ["enc", 0])
    elif kind == "split":
        p["ks"] = {"class_type": "DInGKSamplerAdvanced", "inputs": dict(_ks_inputs(["enc", 0], steps=4),
                                                                       start_at_step=0, end_at_step=2)}
        p["ks2"] = {"class_type": "DInGKSamplerAdvanced", "inputs": dict(_ks_inputs(["ks", 0], steps=4),
                                                                        start_at_step=2, end_at_step=10000,
                                                                        observation=["enc", 0])}
        _tail(p, ["ks2", 0], ["enc", 0])
    elif kind == "sampler":
        p["smp"] = {"class_type": "DInGSampler", "inputs": {"variant": "ding1", "obs_std": 0.01, "eta": "ddpm",
                                                           "particles": 1}}
        p["guider"] = {"class_type": "CFGGuider", "inputs": {"model": ["ckpt", 0], "positive": ["pos", 0],
                                                            "negative": ["neg", 0], "cfg": 1.0}}
        p["noise"] = {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}}
        p["sched"] = {"class_type": "BasicScheduler", "inputs": {"model": ["ckpt", 0], "scheduler": "simple",
                                                                "steps": 2, "denoise": 1.0}}
        p["sca"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["smp", 0], "sigmas": ["sched", 0],
            "latent_image": ["enc", 0]}}
        _tail(p, ["sca", 0], ["enc", 0])
    elif kind == "composite":
        for k in ("ckpt", "pos", "neg", "enc"):
            del p[k]
        p["gen"] = _img(*size, seed=rng.randrange(100) + 200)
        _composite(p, ["img", 0], ["gen", 0], ["mask", 0])
    elif kind == "video":
        frames = rng.choice([5, 9, 1, 2, 3, 4, 6, 8, 10, 13])  # 1 + 4n, and 1 + 4n +- 1
        for k in ("pos", "neg"):
            del p[k]
        p["vae"] = {"class_type": "VAELoader", "inputs": {"vae_name": models.video_vae}}
        p["img"] = _img(64, 64, batch=frames, seed=rng.randrange(100))
        p["mask"] = _mask(64, 64, batch=rng.choice([1, frames]))
        p["enc"]["inputs"]["vae"] = ["vae", 0]
        p["chk_lat"] = {"class_type": "DInGFuzzCheckLatent", "inputs": {"before": ["enc", 0], "after": ["enc", 0],
                                                                       "partial": False}}
        p["inv"] = {"class_type": "ImageInvert", "inputs": {"image": ["img", 0]}}
        _composite(p, ["img", 0], ["inv", 0], ["enc", 1])
        del p["ckpt"]
    else:
        raise ValueError(f"unknown pipeline {kind!r}")
    return p


# --------------------------------------------------------------------------- mutations

WRONG_TYPE_VALUES = ("abc", "", [1, 2], [1], [1, 2, 3], {"a": 1}, None, True, ["nowhere", 0])


def _widget_mutations(name):
    """(description, value) candidates for a widget input."""
    out = [(f"{name}={v!r}", v) for v in WRONG_TYPE_VALUES]
    if name in INT_BOUNDS:
        lo, hi = INT_BOUNDS[name]
        vals = [lo, hi, lo - 1, hi + 1, 0, -1, -(2 ** 63), 2 ** 70, 1.5, 2.7, "3", float("nan"), float("inf"),
                float("-inf"), 1e30]
        if name == "particles":
            vals += [1, 16, 0, 17, 16, 2]
        if name in ("grow_mask_by", "feather"):
            vals += [0, 1, hi, hi + 1, 255, 4095]
        if name == "steps":
            vals = [v for v in vals if v != hi] + [1, 5]  # 10000 real steps is a valid, slow run
        out += [(f"{name}={v!r}", v) for v in vals]
    elif name in FLOAT_BOUNDS:
        lo, hi = FLOAT_BOUNDS[name]
        vals = [lo, hi, lo - 1e-6, hi + 1e-6, -1.0, 1e30, float("nan"), float("inf"), float("-inf"), "0.5",
                "nan", "inf", 1e-12, 5e-324]
        out += [(f"{name}={v!r}", v) for v in vals]
    elif name in COMBOS:
        opts = COMBOS[name]
        out += [(f"{name}={v!r}", v) for v in (*opts, "nonsense", opts[0].upper(), 0, 1)]
    return out


def _source_nodes(kind, rng):
    """Alternative sources for a link of the given type: (description, {node_id: node}, link)."""
    w, h = rng.choice([(64, 64), (72, 80)])
    if kind == "IMAGE":
        opts = [("0-size image (width 0)", _img(0, 64)), ("0-size image (height 0)", _img(64, 0)),
                ("batch of 0 images", _img(64, 64, batch=0)), ("1x1 image", _img(1, 1)),
                ("7x7 image", _img(7, 7)), ("8192x64 image", _img(8192, 64)), ("64x8192 image", _img(64, 8192)),
                ("8x8 image", _img(8, 8)), ("9x13 image", _img(9, 13)),
                ("1-channel image", _img(w, h, channels=1)), ("2-channel image", _img(w, h, channels=2)),
                ("RGBA image", _img(w, h, channels=4)), ("NaN image", _img(w, h, kind="nan")),
                ("inf image", _img(w, h, kind="inf")), ("values 0..255 image", _img(w, h, kind="big")),
                ("negative image", _img(w, h, kind="negative")), ("batch-2 image", _img(w, h, batch=2)),
                ("batch-3 image", _img(w, h, batch=3)), ("other-size image 96x64", _img(96, 64)),
                ("other-size image 128x128", _img(128, 128)), ("3-D image tensor", _img(w, h, kind="dims3")),
                ("5-D image tensor", _img(w, h, kind="dims5")), ("float64 image", _img(w, h, kind="float64")),
                ("half image", _img(w, h, kind="half"))]
        if rng.random() < 0.01:
            opts.append(("8192x8192 image", _img(8192, 8192)))
        return opts
    if kind == "MASK":
        return [(f"{k} mask", _mask(w, h, kind=k)) for k in
                ("none", "full", "grey", "negative", "over1", "nan", "inf", "stroke", "dims2", "dims4",
                 "dot", "edge", "half", "bool", "float64")] + [
            ("mask batch 2", _mask(w, h, batch=2)), ("mask batch 3", _mask(w, h, batch=3)),
            ("mask batch 0", _mask(w, h, batch=0)), ("mask 0-size", _mask(0, 0)),
            ("mask 1x1 full", _mask(1, 1, kind="full")), ("mask 32x32", _mask(32, 32)),
            ("mask 128x96", _mask(128, 96)), ("mask 8192x64", _mask(8192, 64)), ("mask 7x9", _mask(7, 9)),
            ("mask 64x64 all-1", _mask(64, 64, kind="full")), ("mask 64x64 all-0", _mask(64, 64, kind="none"))]
    if kind == "LATENT":
        def lat(**kw):
            base = {"channels": 16, "dims": 4, "frames": 1, "width": 8, "height": 8, "batch": 1,
                    "kind": "randn", "noise_mask": "rect"}
            base.update(kw)
            return {"class_type": "DInGFuzzLatent", "inputs": base}
        return [("EmptyLatentImage (4 ch)", {"class_type": "EmptyLatentImage",
                                             "inputs": {"width": 64, "height": 64, "batch_size": 1}}),
                ("EmptySD3LatentImage", {"class_type": "EmptySD3LatentImage",
                                         "inputs": {"width": 64, "height": 64, "batch_size": 1}}),
                ("latent without samples", lat(kind="no_samples")),
                ("latent that is a bare tensor", lat(kind="bare_tensor")),
                ("latent samples a list", lat(kind="list")),
                ("4-ch random latent", lat(channels=4)), ("4-ch zero latent", lat(channels=4, kind="zeros")),
                ("1-ch latent", lat(channels=1)), ("64-ch latent", lat(channels=64)),
                ("5-D latent (3 frames)", lat(dims=5, frames=3)), ("5-D latent (1 frame)", lat(dims=5)),
                ("3-D latent", lat(dims=3)), ("NaN latent", lat(kind="nan")), ("inf latent", lat(kind="inf")),
                ("huge latent values", lat(kind="huge")),
                ("latent batch 2", lat(batch=2)), ("latent batch 0", lat(batch=0)),
                ("latent 0x0", lat(width=0, height=0)), ("latent 1x1", lat(width=1, height=1)),
                ("latent 3x5", lat(width=3, height=5)), ("latent 64x64 cells", lat(width=64, height=64)),
                ("latent 256x16 cells", lat(width=256, height=16)),
                ("latent no noise_mask", lat(noise_mask="none")),
                ("latent all-kept mask", lat(noise_mask="zeros")),
                ("latent all-repaint mask", lat(noise_mask="ones")),
                ("latent grey mask", lat(noise_mask="half")),
                ("latent mask other size", lat(noise_mask="other_size")),
                ("latent mask batch 3", lat(noise_mask="batch3")),
                ("latent mask NaN", lat(noise_mask="nan")), ("latent mask negative", lat(noise_mask="negative")),
                ("latent mask over 1", lat(noise_mask="over1")), ("latent mask 5-D", lat(noise_mask="dims5")),
                ("latent mask 2-D", lat(noise_mask="dims2")), ("latent mask a list", lat(noise_mask="list")),
                ("latent mask 16 channels", lat(noise_mask="channels16")),
                ("latent float16", lat(kind="half")), ("latent bfloat16", lat(kind="bf16")),
                ("latent float64", lat(kind="float64"))]
    if kind == "CONDITIONING":
        return [("empty conditioning list", {"class_type": "DInGFuzzConditioning",
                                             "inputs": {"seed": 1, "kind": "empty"}}),
                ("conditioning batch 2", {"class_type": "DInGFuzzConditioning",
                                          "inputs": {"seed": 1, "kind": "batch2"}})]
    return []


def _wrong_links(p, node_id, name, rng):
    """Links to a wrong output: other type, index out of range, missing node, a widget value."""
    ids = [k for k in p if k != node_id]
    other = rng.choice(ids)
    return [(f"{name} -> {other}[0] (other output)", [other, 0]), (f"{name} -> {other}[7]", [other, 7]),
            (f"{name} -> missing node", ["no_such_node", 0]), (f"{name} -> [node] only", [other]),
            (f"{name} -> -1 index", [other, -1]), (f"{name} = 5 (value for a link)", 5),
            (f"{name} = 'abc'", "abc"), (f"{name} -> itself", [node_id, 0]),
            (f"{name} -> index '0'", [other, "0"])]


def mutate(p: dict, rng: random.Random, models: Models) -> list:
    """Make one input of one of our nodes in ``p`` wrong (in place); returns the description."""
    ours = [k for k, n in p.items() if n["class_type"] in OUR_INPUTS]
    node_id = rng.choice(ours)
    node = p[node_id]
    names = list(OUR_INPUTS[node["class_type"]])
    name = rng.choice(names)
    where = f"{node['class_type']}.{name}"
    r = rng.random()
    if r < 0.08:  # missing input
        node["inputs"].pop(name, None)
        return [f"{where} missing"]
    if name in LINK_TYPES:
        sources = _source_nodes(LINK_TYPES[name], rng)
        if name == "vae" and models.video_vae:
            sources.append(("video VAE", {"class_type": "VAELoader", "inputs": {"vae_name": models.video_vae}}))
        if "vae" in p and name in ("pixels", "mask") and node["class_type"] == "DInGInpaintEncode":
            # a video VAE: clips of 1 + 4n +- 1 frames, masks per frame or not
            frames = rng.choice([1, 2, 3, 4, 5, 6, 8, 9, 10, 13])
            sources = ([(f"{frames}-frame clip", _img(64, 64, batch=frames))] if name == "pixels" else
                       [(f"{frames}-mask clip mask", _mask(64, 64, batch=frames))])
            if name == "pixels" and rng.random() < 0.5:
                p["mask"] = _mask(64, 64, batch=frames)
                sources = [(f"{frames}-frame clip with {frames} masks", sources[0][1])]
        if name == "vae":
            sources.append(("TAESD3 VAE", {"class_type": "VAELoader", "inputs": {"vae_name": "taesd3"}}))
        if sources and r < 0.75:
            desc, src = rng.choice(sources)
            src_id = f"fz_{name}"
            p[src_id] = src
            node["inputs"][name] = [src_id, 0]
            _follow(p, node_id, name, src_id)
            return [f"{where} <- {desc}"]
        desc, val = rng.choice(_wrong_links(p, node_id, name, rng))
        node["inputs"][name] = val
        if isinstance(val, list) and len(val) == 2:
            _follow(p, node_id, name, val)
        return [desc.replace(name, where, 1)]
    desc, val = rng.choice(_widget_mutations(name))
    node["inputs"][name] = val
    _follow_widget(p, node_id, name, val)
    return [desc.replace(name, where, 1)]


def _follow(p, node_id, name, src_id):
    """Keep the check nodes reading what the mutated node reads (``src_id``: the new source node's
    id, or the new link / value itself)."""
    link = list(src_id) if isinstance(src_id, list) else [src_id, 0]
    node = p[node_id]
    if node["class_type"] == "DInGComposite":
        chk = p.get("chk_comp")
        if chk is not None and name in ("original", "mask"):
            chk["inputs"][name] = link
    if node["class_type"] in ("DInGKSampler", "DInGKSamplerAdvanced") and name == "latent_image" \
            and node_id == "ks" and "chk_lat" in p:
        p["chk_lat"]["inputs"]["before"] = link
    if name == "observation" and "chk_lat" in p and node_id in ("ks2" if "ks2" in p else "ks", "smp"):
        p["chk_lat"]["inputs"]["observation"] = link
    if node["class_type"] == "DInGInpaintEncode" and name == "pixels":
        for k in ("chk_comp", "comp"):
            if k in p and p[k]["inputs"].get("original") == ["img", 0]:
                p[k]["inputs"]["original"] = link
        if "inv" in p:
            p["inv"]["inputs"]["image"] = link


def _follow_widget(p, node_id, name, val):
    if p[node_id]["class_type"] == "DInGComposite" and name == "feather" and "chk_comp" in p:
        ok = isinstance(val, (int, float)) and not isinstance(val, bool) and math.isfinite(val) \
            and 0 <= val <= 4096
        if isinstance(val, str) and val.strip().lstrip("-").isdigit():
            ok, val = True, int(val)
        p["chk_comp"]["inputs"]["feather"] = int(val) if ok else 0
    if p[node_id]["class_type"] == "DInGKSamplerAdvanced" and name in ("end_at_step", "start_at_step") \
            and "chk_lat" in p and node_id == "ks" and "ks2" not in p:
        p["chk_lat"]["inputs"]["partial"] = True  # a segment that stops early returns a noisy latent


PIPELINES = (("ksampler", 30), ("encode", 18), ("composite", 16), ("advanced", 10), ("split", 6),
             ("sampler", 12), ("video", 8))


def make_case(index: int, seed: int, models: Models) -> Case:
    rng = random.Random(f"{seed}:{index}")
    kinds = [k for k, _ in PIPELINES if k != "video" or models.video_vae]
    weights = [w for k, w in PIPELINES if k != "video" or models.video_vae]
    kind = rng.choices(kinds, weights)[0]
    p = build_pipeline(kind, models, rng)
    mutations = [f"{p['img']['inputs']['batch']}-frame clip"] if kind == "video" else []
    if rng.random() < 0.93:  # a few valid prompts of every pipeline as a control
        for _ in range(1 if rng.random() < 0.8 else 2):
            mutations += mutate(p, rng, models)
    if rng.random() < 0.3:  # sane variation of the valid inputs too
        for node in p.values():
            for name, vals in SANE.items():
                if name in node["inputs"] and node["class_type"] in OUR_INPUTS and not isinstance(
                        node["inputs"][name], list) and not any(name in m for m in mutations):
                    if rng.random() < 0.3:
                        node["inputs"][name] = rng.choice(vals)
    _fix_followers(p)
    return Case(index, kind, mutations, p)


def _fix_followers(p):
    """Keep the composite check's feather equal to the composite's (after sane variation)."""
    comp, chk = p.get("comp"), p.get("chk_comp")
    if comp and chk:
        f = comp["inputs"].get("feather", 0)
        if isinstance(f, int) and not isinstance(f, bool) and 0 <= f <= 4096:
            chk["inputs"]["feather"] = f


def make_cases(n: int, seed: int, models: Models) -> list:
    return [make_case(i, seed, models) for i in range(n)]


# --------------------------------------------------------------------------- classification

def names_an_input(node_type: Optional[str], message: str) -> bool:
    names = OUR_INPUTS.get(node_type or "", ())
    if node_type in SAMPLER_HOSTS:
        names = OUR_INPUTS["DInGSampler"] + SAMPLER_HOSTS[node_type]
    return any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", message or "") for n in names)


def classify_execution_error(err: dict) -> str:
    node_type = err.get("node_type")
    exc_type = str(err.get("exception_type") or "")
    if (node_type in OUR_INPUTS or node_type in SAMPLER_HOSTS) and exc_type.endswith("ValueError") and names_an_input(
            node_type, str(err.get("exception_message") or "")):
        return "failed_named"
    return "failed_otherwise"


def classify_checks(outputs: dict) -> tuple:
    """('silent', why) if a check node in the outputs reported a violation, else ('ok', '')."""
    for node_id, ui in (outputs or {}).items():
        for verdict in (ui or {}).get("fuzz_check", []) or []:
            if isinstance(verdict, dict) and not verdict.get("ok", True):
                return "silent", f"{node_id}: {verdict.get('why')}"
    return "ok", ""


def worst(*classes) -> str:
    return min(classes, key=SEVERITY.index)


def count_table(results: list, title: str = "") -> str:
    """results: [(case, cls, detail)] -> a text table of the counts (by class and pipeline)."""
    kinds = [k for k, _ in PIPELINES if any(c.kind == k for c, _, _ in results)]
    head = f"{'class':18s} {'total':>6s} " + " ".join(f"{k:>9s}" for k in kinds)
    lines = [title, head, "-" * len(head)] if title else [head, "-" * len(head)]
    for cls in SEVERITY:
        row = [sum(1 for c, r, _ in results if r == cls and c.kind == k) for k in kinds]
        lines.append(f"{cls:18s} {sum(row):6d} " + " ".join(f"{v:9d}" for v in row))
    lines.append(f"{'prompts':18s} {len(results):6d} " + " ".join(
        f"{sum(1 for c, _, _ in results if c.kind == k):9d}" for k in kinds))
    return "\n".join(lines)


# --------------------------------------------------------------------------- test-only nodes

def make_fuzz_nodes() -> dict:
    """{class_type: class} of the test-only nodes the fuzz prompts use (V1 nodes)."""
    import torch

    big = {"min": -(2 ** 62), "max": 2 ** 62}

    class DInGFuzzImage:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"width": ("INT", {"default": 64, **big}), "height": ("INT", {"default": 64, **big}),
                                 "batch": ("INT", {"default": 1, **big}), "channels": ("INT", {"default": 3, **big}),
                                 "kind": ("STRING", {"default": "smooth"}), "seed": ("INT", {"default": 0, **big})}}
        RETURN_TYPES = ("IMAGE",)
        FUNCTION = "make"
        CATEGORY = "ding_test"

        def make(self, width, height, batch, channels, kind, seed):
            g = torch.Generator().manual_seed(int(seed))
            low = torch.rand(max(batch, 1), channels, max(2, height // 16), max(2, width // 16), generator=g)
            img = torch.nn.functional.interpolate(low, size=(max(height, 1), max(width, 1)), mode="bilinear",
                                                  align_corners=False).movedim(1, -1)[:batch, :height, :width]
            img = img.contiguous()
            if kind == "nan":
                img[..., :, :4, :] = float("nan")
            elif kind == "inf":
                img[..., :, :4, :] = float("inf")
            elif kind == "big":
                img = img * 255
            elif kind == "negative":
                img = img - 1.0
            elif kind == "dims3":
                img = img[0]
            elif kind == "dims5":
                img = img[None]
            elif kind == "float64":
                img = img.double()
            elif kind == "half":
                img = img.half()
            return (img,)

    class DInGFuzzMask:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"width": ("INT", {"default": 64, **big}), "height": ("INT", {"default": 64, **big}),
                                 "batch": ("INT", {"default": 1, **big}), "kind": ("STRING", {"default": "rect"}),
                                 "seed": ("INT", {"default": 0, **big})}}
        RETURN_TYPES = ("MASK",)
        FUNCTION = "make"
        CATEGORY = "ding_test"

        def make(self, width, height, batch, kind, seed):
            m = torch.zeros(batch, height, width)
            y0, x0 = height // 4 + seed % 5, width // 4 + seed % 3
            if kind in ("rect", "dims2", "dims4", "bool", "float64", "negative", "over1", "nan", "inf"):
                m[:, y0:y0 + height // 3, x0:x0 + width // 3] = 1.0
            elif kind == "full":
                m[:] = 1.0
            elif kind == "grey":
                m[:] = 0.5
            elif kind == "half":
                m[:, :, : width // 2] = 1.0
            elif kind == "stroke":
                for i in range(min(height, width)):
                    m[:, i, i] = 1.0
            elif kind == "dot":
                m[:, height // 2:height // 2 + 1, width // 2:width // 2 + 1] = 1.0
            elif kind == "edge":
                m[:, :, -1:] = 1.0
            if kind == "negative":
                m = m * 2 - 1
            elif kind == "over1":
                m = m * 3
            elif kind == "nan":
                m[:, :1, :1] = float("nan")
            elif kind == "inf":
                m[:, :1, :1] = float("inf")
            elif kind == "dims2":
                m = m[0]
            elif kind == "dims4":
                m = m[:, None]
            elif kind == "bool":
                m = m > 0
            elif kind == "float64":
                m = m.double()
            return (m,)

    class DInGFuzzLatent:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"channels": ("INT", {"default": 16, **big}), "dims": ("INT", {"default": 4, **big}),
                                 "frames": ("INT", {"default": 1, **big}), "width": ("INT", {"default": 8, **big}),
                                 "height": ("INT", {"default": 8, **big}), "batch": ("INT", {"default": 1, **big}),
                                 "kind": ("STRING", {"default": "randn"}),
                                 "noise_mask": ("STRING", {"default": "rect"})}}
        RETURN_TYPES = ("LATENT",)
        FUNCTION = "make"
        CATEGORY = "ding_test"

        def make(self, channels, dims, frames, width, height, batch, kind, noise_mask):
            g = torch.Generator().manual_seed(11)
            shape = {3: (batch, channels, width * height), 4: (batch, channels, height, width),
                     5: (batch, channels, frames, height, width)}[dims]
            s = torch.zeros(shape) if kind == "zeros" else torch.randn(shape, generator=g)
            if kind == "nan":
                s.view(-1)[:3] = float("nan")
            elif kind == "inf":
                s.view(-1)[:3] = float("inf")
            elif kind == "huge":
                s = s * 1e30
            elif kind == "half":
                s = s.half()
            elif kind == "bf16":
                s = s.bfloat16()
            elif kind == "float64":
                s = s.double()
            if kind == "bare_tensor":
                return (s,)
            out = {"samples": s.tolist() if kind == "list" else s}
            if kind == "no_samples":
                out = {"noise_mask": torch.ones(1, 1, height, width)}
            m = None
            spatial = shape[2:] if dims != 3 else (height, width)
            if noise_mask == "rect":
                m = torch.zeros(1, 1, *spatial[-2:])
                m[..., spatial[-2] // 4: spatial[-2] // 2 + 1, spatial[-1] // 4: spatial[-1] // 2 + 1] = 1
            elif noise_mask == "zeros":
                m = torch.zeros(1, 1, *spatial[-2:])
            elif noise_mask == "ones":
                m = torch.ones(1, 1, *spatial[-2:])
            elif noise_mask == "half":
                m = torch.full((1, 1, *spatial[-2:]), 0.5)
            elif noise_mask == "other_size":
                m = torch.zeros(1, 1, 5, 3)
                m[..., 1:3, 1:2] = 1
            elif noise_mask == "batch3":
                m = torch.zeros(3, 1, *spatial[-2:])
                m[1] = 1
            elif noise_mask in ("nan", "negative", "over1"):
                m = torch.zeros(1, 1, *spatial[-2:])
                m[..., :2, :2] = {"nan": float("nan"), "negative": -1.0, "over1": 3.0}[noise_mask]
                m[..., -2:, -2:] = 1
            elif noise_mask == "dims5":
                m = torch.zeros(1, 1, 1, *spatial[-2:])
                m[..., :2, :2] = 1
            elif noise_mask == "dims2":
                m = torch.zeros(*spatial[-2:])
                m[:2, :2] = 1
            elif noise_mask == "list":
                m = [[0.0, 1.0]]
            elif noise_mask == "channels16":
                m = torch.zeros(1, 16, *spatial[-2:])
                m[:, :, :2, :2] = 1
            if m is not None and kind != "no_samples":
                out["noise_mask"] = m
            return (out,)

    class DInGFuzzConditioning:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"seed": ("INT", {"default": 0, **big})},
                    "optional": {"kind": ("STRING", {"default": "sd3"})}}
        RETURN_TYPES = ("CONDITIONING",)
        FUNCTION = "make"
        CATEGORY = "ding_test"

        def make(self, seed, kind="sd3"):
            from comfy_testbed import tiny_models
            if kind == "empty":
                return ([],)
            return (tiny_models.sd3_conditioning(seed, tokens=16, batch=2 if kind == "batch2" else 1),)

    def verdict(ok, why=""):
        return {"ui": {"fuzz_check": [{"ok": bool(ok), "why": str(why)}]}}

    class DInGFuzzCheckLatent:
        """Output node: the kept-region rule for a sampled LATENT ``after`` against the LATENT the
        sampler got (``before``): finite, same shape, cells the noise_mask keeps (0) unchanged."""
        @classmethod
        def INPUT_TYPES(cls):
            from comfy_testbed.comfy_harness import ANY
            return {"required": {"before": (ANY, {}), "after": (ANY, {}), "partial": ("BOOLEAN", {"default": False})},
                    "optional": {"observation": (ANY, {})}}
        RETURN_TYPES = ()
        FUNCTION = "check"
        OUTPUT_NODE = True
        CATEGORY = "ding_test"

        @classmethod
        def IS_CHANGED(cls, **kwargs):
            return float("nan")

        def check(self, before, after, partial, observation=None):
            return verdict(*check_latent(before, after, partial, observation))

    class DInGFuzzCheckComposite:
        """Output node: pixels of ``result`` farther than ``feather`` (+ the mask's resize margin)
        from the mask must equal ``original`` bit for bit; no NaN/inf; the original's shape."""
        @classmethod
        def INPUT_TYPES(cls):
            from comfy_testbed.comfy_harness import ANY
            return {"required": {"original": (ANY, {}), "mask": (ANY, {}), "result": (ANY, {}),
                                 "feather": ("INT", {"default": 0, **big})}}
        RETURN_TYPES = ()
        FUNCTION = "check"
        OUTPUT_NODE = True
        CATEGORY = "ding_test"

        @classmethod
        def IS_CHANGED(cls, **kwargs):
            return float("nan")

        def check(self, original, mask, result, feather):
            return verdict(*check_composite(original, mask, result, feather))

    return {c.__name__: c for c in (DInGFuzzImage, DInGFuzzMask, DInGFuzzLatent, DInGFuzzConditioning,
                                    DInGFuzzCheckLatent, DInGFuzzCheckComposite)}


def check_latent(before, after, partial=False, observation=None) -> tuple:
    """(ok, why) for the kept-region rule of a sampler's LATENT output: the cells that ``before``'s
    noise_mask keeps hold ``before``'s samples, or those of the ``observation`` LATENT where the
    sampler was given one (a DInG sampler's kept region is its observation)."""
    import torch
    s = after.get("samples") if isinstance(after, dict) else None
    if not isinstance(s, torch.Tensor):
        return False, f"output is not a LATENT with a samples tensor ({type(after).__name__})"
    if not torch.isfinite(s.float()).all():
        return False, f"output latent {tuple(s.shape)} contains NaN/inf"
    m = after.get("noise_mask")
    if isinstance(m, torch.Tensor) and not torch.isfinite(m.float()).all():
        return False, "output noise_mask contains NaN/inf"
    if partial or before is after:
        return True, ""
    b = before.get("samples") if isinstance(before, dict) else None
    if not isinstance(b, torch.Tensor):
        return True, ""
    o = observation.get("samples") if isinstance(observation, dict) else None
    if isinstance(o, torch.Tensor) and o.shape[1:] == s.shape[1:]:
        b = o.expand_as(s)
    if tuple(b.shape) != tuple(s.shape):
        if int(torch.count_nonzero(b)) == 0:
            return True, ""  # an empty latent is given the model's channels
        return False, f"latent shape {tuple(b.shape)} came back as {tuple(s.shape)}"
    m = before.get("noise_mask")
    if not isinstance(m, torch.Tensor):
        return True, ""
    import comfy.utils
    try:
        keep = comfy.utils.reshape_mask(m.float(), s.shape) == 0
    except Exception as e:  # noqa: BLE001
        return False, f"the sampler accepted a noise_mask {tuple(m.shape)} ComfyUI cannot fit to the latent ({e})"
    b, s = b.float().cpu(), s.float().cpu()
    keep = keep.cpu()
    if not bool(keep.any()):
        return True, ""
    diff = float((s - b)[keep].abs().max())
    tol = 1e-4 * (1.0 + float(b.abs().max()))
    if diff > tol:
        return False, f"kept latent cells changed by up to {diff:.3g} (tolerance {tol:.3g})"
    return True, ""


def check_composite(original, mask, result, feather) -> tuple:
    """(ok, why) for the composite's kept-region rule."""
    import torch
    import torch.nn.functional as F
    if not isinstance(result, torch.Tensor):
        return False, f"result is not a tensor ({type(result).__name__})"
    if not torch.isfinite(result.float()).all():
        return False, f"result {tuple(result.shape)} contains NaN/inf"
    if not isinstance(original, torch.Tensor) or original.ndim != 4:
        return True, ""
    batch = result.shape[0]
    if result.ndim != 4 or tuple(result.shape[1:]) != tuple(original.shape[1:]) or original.shape[0] not in (1, batch):
        return False, f"result {tuple(result.shape)} does not have the original's shape {tuple(original.shape)}"
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3) or mask.numel() == 0:
        return True, ""
    m = mask.float()
    if m.ndim == 2:
        m = m[None]
    _, height, width = original.shape[:3]
    margin = 0
    if tuple(m.shape[-2:]) != (height, width):
        margin = int(math.ceil(max(height / m.shape[-2], width / m.shape[-1]))) + 1
        m = F.interpolate(m[:, None], size=(height, width), mode="bilinear", align_corners=False)[:, 0]
    near = (m > 0).float()
    r = int(feather) + margin + 1
    if r > 0:
        near = F.max_pool2d(near[:, None], 2 * r + 1, stride=1, padding=r)[:, 0]
    kept = (near == 0).expand(batch, -1, -1)
    orig = original.expand(batch, -1, -1, -1)
    if not bool(kept.any()):
        return True, ""
    diff = (result.float() - orig.float())[kept]
    if diff.numel() and bool((diff != 0).any()):
        return False, (f"{int((diff != 0).any(-1).sum())} pixels outside mask + feather {feather} differ from "
                       f"the original (max {float(diff.abs().max()):.3g})")
    return True, ""


# --------------------------------------------------------------------------- the in-process route

def run_in_harness(harness, case: Case) -> tuple:
    """Run one case through ``comfy_harness.ComfyHarness.run_prompt``: (class, detail)."""
    from comfy_testbed.comfy_harness import PromptExecutionError, PromptValidationError
    try:
        result = harness.run_prompt(case.prompt, strict=False)
    except PromptValidationError as e:
        return "rejected", str(e).splitlines()[1] if len(str(e).splitlines()) > 1 else str(e)
    except PromptExecutionError as e:
        return classify_execution_error(e.message), f"{e.node_type}: {e.exception_type}: {e.exception_message}"
    ok, _, _, node_errors = harness.validate(case.prompt)
    cls, why = classify_checks(result["outputs"])
    if cls == "ok" and node_errors:
        return "rejected", "partly rejected: " + ", ".join(node_errors)
    return cls, why


# --------------------------------------------------------------------------- a fixed subset

# (pipeline, node id, input, what, expected class, message fragment or None). what: ("value", v),
# ("source", description from _source_nodes), ("missing",) or ("link", [node, slot]).
SUBSET = (
    ("ksampler", "ks", None, None, "ok", None),
    ("sampler", "smp", None, None, "ok", None),
    ("split", "ks2", None, None, "ok", None),
    ("composite", "comp", None, None, "ok", None),
    ("ksampler", "ks", "steps", ("value", 0), "rejected", None),
    ("ksampler", "ks", "cfg", ("value", "abc"), "rejected", None),
    ("ksampler", "ks", "latent_image", ("link", ["mask", 0]), "rejected", None),
    ("ksampler", "ks", "model", ("missing",), "rejected", None),
    ("encode", "enc", "grow_mask_by", ("value", 257), "rejected", None),
    ("ksampler", "ks", "particles", ("value", 17), "rejected", None),
    ("ksampler", "ks", "particles", ("value", 16), "ok", None),
    ("ksampler", "ks", "denoise", ("value", float("nan")), "failed_named", "denoise must be a finite number"),
    ("ksampler", "ks", "cfg", ("value", float("nan")), "failed_named", "cfg must be a finite number"),
    ("ksampler", "ks", "obs_std", ("value", float("nan")), "failed_named", "obs_std"),
    ("ksampler", "ks", "denoise", ("value", 1e-12), "failed_named", "denoise (1e-12) is too small"),
    ("ksampler", "ks", "denoise", ("value", 0.0), "ok", None),
    ("ksampler", "ks", "model", ("value", 5), "failed_named", "model must be a MODEL"),
    ("ksampler", "ks", "latent_image", ("value", 5), "failed_named", "latent_image must be a LATENT"),
    ("ksampler", "ks", "positive", ("value", "abc"), "failed_named", "positive must be a CONDITIONING"),
    ("ksampler", "ks", "latent_image", ("source", "latent without samples"), "failed_named", "latent_image must be"),
    ("ksampler", "ks", "latent_image", ("source", "4-ch random latent"), "failed_named", "latent_image has 4 channels"),
    ("ksampler", "ks", "latent_image", ("source", "5-D latent (1 frame)"), "failed_named", "latent_image has shape"),
    ("ksampler", "ks", "latent_image", ("source", "NaN latent"), "failed_named", "latent_image contains NaN"),
    ("ksampler", "ks", "latent_image", ("source", "latent mask NaN"), "failed_named", "noise_mask"),
    ("ksampler", "ks", "latent_image", ("source", "latent mask a list"), "failed_named", "noise_mask must be a tensor"),
    ("ksampler", "ks", "latent_image", ("source", "latent all-kept mask"), "ok", None),
    ("ksampler", "ks", "latent_image", ("source", "EmptyLatentImage (4 ch)"), "ok", None),
    ("ksampler", "ks", "latent_image", ("source", "latent 256x16 cells"), "failed_named", "position embedding"),
    ("sampler", "sca", "latent_image", ("source", "NaN latent"), "failed_named", "latent_image contains NaN"),
    ("sampler", "smp", "observation", ("source", "EmptySD3LatentImage"), "failed_named", "observation has shape"),
    ("encode", "enc", "vae", ("value", 5), "failed_named", "vae must be a VAE"),
    ("encode", "enc", "mask", ("source", "mask 0-size"), "failed_named", "mask is empty"),
    ("encode", "enc", "pixels", ("source", "batch of 0 images"), "failed_named", "pixels is empty"),
    ("encode", "enc", "pixels", ("source", "1x1 image"), "failed_named", "pixels must be at least"),
    ("encode", "enc", "mask", ("source", "none mask"), "failed_named", "mask is empty"),
    ("encode", "enc", "mask", ("source", "mask batch 3"), "failed_named", "mask has a batch of 3"),
    ("encode", "enc", "mask", ("source", "full mask"), "ok", None),
    ("encode", "enc", "mask", ("source", "mask 32x32"), "ok", None),
    ("composite", "comp", "generated", ("source", "0-size image (height 0)"), "failed_named", "generated is empty"),
    ("composite", "comp", "mask", ("source", "nan mask"), "failed_named", "mask contains NaN"),
    ("composite", "comp", "mask", ("source", "mask 128x96"), "ok", None),
    ("composite", "comp", "feather", ("value", 4096), "ok", None),
    ("composite", "comp", "original", ("source", "8192x64 image"), "ok", None),
    ("composite", "comp", "original", ("source", "1x1 image"), "failed_named", "generated image"),
)


def subset_cases(models: Models) -> list:
    """The fixed cases of ``SUBSET`` as (case, expected class, message fragment)."""
    out = []
    for i, (kind, node_id, name, what, expected, fragment) in enumerate(SUBSET):
        rng = random.Random(i)
        p = build_pipeline(kind, models, random.Random(f"subset:{i}"))
        mutations = []
        if name is not None:
            node = p[node_id]
            where = f"{node['class_type']}.{name}"
            if what[0] == "missing":
                node["inputs"].pop(name)
                mutations.append(f"{where} missing")
            elif what[0] == "value":
                node["inputs"][name] = what[1]
                _follow_widget(p, node_id, name, what[1])
                mutations.append(f"{where}={what[1]!r}")
            elif what[0] == "link":
                node["inputs"][name] = list(what[1])
                mutations.append(f"{where} -> {what[1]}")
            else:
                sources = dict(_source_nodes(LINK_TYPES[name], rng))
                src_id = f"fz_{name}"
                p[src_id] = sources[what[1]]
                node["inputs"][name] = [src_id, 0]
                _follow(p, node_id, name, src_id)
                mutations.append(f"{where} <- {what[1]}")
        _fix_followers(p)
        out.append((Case(i, kind, mutations, p), expected, fragment))
    return out
