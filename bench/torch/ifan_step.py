"""The iFAN 3-task integrated network in PyTorch, layer for layer as packages/core builds it, and its
stage-2 training step, driven by bench/torch-vs.ts over stdin/stdout (one JSON object per line).

The driver sends the project network's description (backbone config, sites, taps, head sizes, the
shapes of its trainable variables), this file builds the same network, counts its FLOPs with hooks
on the convolutions and dense layers and checks its parameters, then runs training steps on request
so that the two sides alternate in one run.

Same as the project (packages/core/src/backbone.ts, network.ts, nn/*, packages/task-*/src/plugin.ts):
  - 7x7 stem conv; dense blocks of BN-ReLU-3x3 conv (growth k), 2x2 average pooling down; up blocks
    (without their input), sub-pixel transition up (BN-ReLU-1x1 conv to 4u, depth-to-space in tfjs's
    DCR order, BN-ReLU-3x3 conv), concatenated skip;
  - batch norm with one gamma/beta (and moving statistics) per key, eps 1e-3, momentum 0.9;
  - decoders (parsing: BN-ReLU-3x3 conv 16-ReLU-1x1 conv C; landmarks: BN-ReLU-3x3 conv 32-ReLU-fc
    128-ReLU-fc 2P; emotion: BN-ReLU-1x1 conv 32-ReLU-fc 64-ReLU-dropout 0.5-fc C);
  - re-encoders (conv pyramids of 3x3 conv + ReLU and 2x2 max pooling for parsing probabilities and
    landmark disk heat maps; fc-ReLU-fc-ReLU tiled for emotion) and the integrator's 1x1 convolutions
    (no bias) added at every site;
  - loss summed over iterations 0..ITER of the step's task: softmax cross-entropy against one-hot
    targets (per pixel, averaged) or half the squared distance, then the masked mean over the batch;
  - stage-2 variables: backbone convolutions with the key's batch norm, the task's decoder, every
    re-encoder and the integrator; RMSprop (lr 1e-3, decay 0.9, eps 1e-7, no momentum).
Layout is PyTorch's own (NCHW), as a PyTorch user would run it.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# One process per thread count (the driver sets OMP_NUM_THREADS too): an OpenMP pool of 2 left
# spinning after its work would otherwise burn CPU inside a one-thread measurement.
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
torch.set_num_threads(THREADS)
torch.set_num_interop_threads(1)


class Ctx:
    """What the project's ForwardContext carries: the batch-norm key."""

    key = None


CTX = Ctx()


class PerKeyBN(nn.Module):
    """Batch norm with one gamma/beta and one pair of moving statistics per key (paper 3.3)."""

    def __init__(self, channels, keys):
        super().__init__()
        self.gamma = nn.ParameterDict({k: nn.Parameter(torch.ones(channels)) for k in keys})
        self.beta = nn.ParameterDict({k: nn.Parameter(torch.zeros(channels)) for k in keys})
        for k in keys:
            self.register_buffer(f"mean_{k}", torch.zeros(channels))
            self.register_buffer(f"var_{k}", torch.ones(channels))

    def forward(self, x):
        k = CTX.key
        return F.batch_norm(x, getattr(self, f"mean_{k}"), getattr(self, f"var_{k}"), self.gamma[k], self.beta[k],
                            training=True, momentum=0.1, eps=1e-3)


def conv(cin, cout, k, bias=True):
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)


class BnReluConv(nn.Module):
    def __init__(self, cin, cout, k, keys):
        super().__init__()
        self.bn = PerKeyBN(cin, keys)
        self.conv = conv(cin, cout, k)

    def forward(self, x):
        return self.conv(F.relu(self.bn(x)))


def down_layers(c, i):
    """Layers of down-path block i (core's downBlockLayers): one number for all, or one per block."""
    n = c["layersPerBlock"]
    return n if isinstance(n, int) else n[i]


def up_layers(c, j):
    return down_layers(c, c["blocks"] - 1 - j)


def up_channels(c, j):
    return c.get("upChannels") or up_layers(c, j) * c["growthRate"]


class DenseBlock(nn.Module):
    def __init__(self, cin, layers, growth, keys, keep_input):
        super().__init__()
        self.keep_input = keep_input
        self.layers = nn.ModuleList()
        ch = cin
        for _ in range(layers):
            self.layers.append(BnReluConv(ch, growth, 3, keys))
            ch += growth
        self.out_channels = ch if keep_input else layers * growth

    def forward(self, x):
        all_ = x
        added = []
        for layer in self.layers:
            y = layer(all_)
            added.append(y)
            all_ = torch.cat([all_, y], 1)
        if self.keep_input:
            return all_
        return added[0] if len(added) == 1 else torch.cat(added, 1)


def depth_to_space_dcr(x, r=2):
    """tf.depthToSpace (NHWC, DCR: channel (i*r + j)*C + c) on NCHW."""
    b, c4, h, w = x.shape
    c = c4 // (r * r)
    return x.view(b, r, r, c, h, w).permute(0, 3, 4, 1, 5, 2).reshape(b, c, h * r, w * r)


class TransitionUp(nn.Module):
    def __init__(self, cin, u, keys):
        super().__init__()
        self.subpixel = BnReluConv(cin, 4 * u, 1, keys)
        self.conv = BnReluConv(u, u, 3, keys)

    def forward(self, x):
        return self.conv(depth_to_space_dcr(self.subpixel(x)))


class Backbone(nn.Module):
    def __init__(self, c, up_blocks, keys):
        super().__init__()
        self.c = c
        self.up_blocks = up_blocks
        self.stem = conv(3, c["stemChannels"], 7)
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        self.transitions = nn.ModuleList()
        ch = c["stemChannels"]
        skips = []
        for i in range(c["blocks"]):
            block = DenseBlock(ch, down_layers(c, i), c["growthRate"], keys, True)
            self.down.append(block)
            ch = block.out_channels
            skips.append(ch)
        for j in range(up_blocks):
            block = DenseBlock(ch, up_layers(c, j), c["growthRate"], keys, False)
            self.up.append(block)
            u = up_channels(c, j)
            self.transitions.append(TransitionUp(block.out_channels, u, keys))
            ch = u + skips[c["blocks"] - 1 - j]

    def forward(self, x, integrate):
        sites = []
        h = self.stem(x)
        skips = []
        for i in range(self.c["blocks"]):
            h = integrate(len(sites), h)
            sites.append(h)
            h = self.down[i](h)
            skips.append(h)
            h = F.avg_pool2d(h, 2, 2)
        h = integrate(len(sites), h)
        sites.append(h)
        for j in range(self.up_blocks):
            y = self.transitions[j](self.up[j](h))
            h = torch.cat([y, skips[self.c["blocks"] - 1 - j]], 1)
            h = integrate(len(sites), h)
            sites.append(h)
        return sites


class ConvPyramid(nn.Module):
    def __init__(self, cin, sizes, channels):
        super().__init__()
        self.convs = nn.ModuleList([conv(cin if k == 0 else channels, channels, 3) for k in range(len(sizes))])

    def forward(self, x):
        out = []
        h = x
        for k, c in enumerate(self.convs):
            if k > 0:
                h = F.max_pool2d(h, 2, 2)
            h = F.relu(c(h))
            out.append(h)
        return out


def masked_mean(per_sample, mask):
    return (per_sample * mask).sum() / torch.clamp(mask.sum(), min=1.0)


def softmax_ce(logits, target):
    """-sum(target * log_softmax) over classes (axis 1), averaged over pixels: per sample."""
    per_position = -(target * F.log_softmax(logits, 1)).sum(1)
    return per_position if per_position.dim() == 1 else per_position.flatten(1).mean(1)


FLOP_EXTRA = {"macs": 0, "on": False}


class ParsingHead(nn.Module):
    def __init__(self, spec, site, sizes, keys):
        super().__init__()
        c, C, F_ = site["channels"], spec["classes"], spec["feedbackChannels"]
        self.decoder = nn.ModuleDict({"bn": PerKeyBN(c, keys), "conv": conv(c, 16, 3), "logits": conv(16, C, 1)})
        self.reencoder = nn.ModuleDict({"pyr": ConvPyramid(C, sizes, F_)})
        self.classes = C

    def decode(self, f):
        d = self.decoder
        return d["logits"](F.relu(d["conv"](F.relu(d["bn"](f)))))

    def activate(self, raw):
        return F.softmax(raw, 1)

    def reencode(self, p):
        return self.reencoder["pyr"](p)

    def loss(self, raw, target, mask):
        return masked_mean(softmax_ce(raw, target), mask)

    def target(self, b, S, g):
        idx = torch.randint(0, self.classes, (b, S, S), generator=g)
        return F.one_hot(idx, self.classes).permute(0, 3, 1, 2).float().contiguous()


class LandmarkHead(nn.Module):
    def __init__(self, spec, site, sizes, keys, S):
        super().__init__()
        s, c = site["size"], site["channels"]
        P, hidden, F_ = spec["points"], spec["hiddenUnits"], spec["feedbackChannels"]
        self.decoder = nn.ModuleDict({
            "bn": PerKeyBN(c, keys), "conv": conv(c, 32, 3),
            "fc1": nn.Linear(s * s * 32, hidden), "coords": nn.Linear(hidden, 2 * P),
        })
        self.reencoder = nn.ModuleDict({"pyr": ConvPyramid(P, sizes, F_)})
        self.P, self.S = P, S
        self.radius = 5 * S / 128
        self.softness = max(0.5, S / 128)
        self.dropout = spec.get("dropout", 0.0)
        self.register_buffer("grid", torch.arange(S, dtype=torch.float32) + 0.5)

    def decode(self, f):
        d = self.decoder
        h = F.relu(d["conv"](F.relu(d["bn"](f))))
        h = F.relu(d["fc1"](h.flatten(1)))
        if self.dropout > 0:
            h = F.dropout(h, self.dropout, True)
        return d["coords"](h)

    def activate(self, raw):
        return raw

    def heatmaps(self, coords):
        b = coords.shape[0]
        pts = (coords * self.S).view(b, self.P, 2)
        px = pts[:, :, 0].view(b, self.P, 1, 1)
        py = pts[:, :, 1].view(b, self.P, 1, 1)
        gx = self.grid.view(1, 1, 1, self.S)
        gy = self.grid.view(1, 1, self.S, 1)
        d2 = (gx - px) ** 2 + (gy - py) ** 2
        dist = torch.sqrt(d2 + 1e-6)
        if FLOP_EXTRA["on"]:
            FLOP_EXTRA["macs"] += self.S * self.S * self.P * 8  # as the project counts the disk maps
        return torch.sigmoid((self.radius - dist) / self.softness)

    def reencode(self, p):
        return self.reencoder["pyr"](self.heatmaps(p))

    def loss(self, raw, target, mask):
        return masked_mean(0.5 * ((raw - target) ** 2).sum(1), mask)

    def target(self, b, S, g):
        return torch.rand(b, 2 * self.P, generator=g)


class EmotionHead(nn.Module):
    def __init__(self, spec, site, sizes, keys):
        super().__init__()
        s, c = site["size"], site["channels"]
        C, hidden, F_ = spec["classes"], spec["hiddenUnits"], spec["feedbackChannels"]
        self.decoder = nn.ModuleDict({
            "bn": PerKeyBN(c, keys), "conv": conv(c, 32, 1),
            "fc": nn.Linear(s * s * 32, hidden), "logits": nn.Linear(hidden, C),
        })
        self.reencoder = nn.ModuleDict({"fc1": nn.Linear(C, hidden), "fc2": nn.Linear(hidden, F_)})
        self.sizes, self.classes = sizes, C
        self.dropout = spec.get("dropout", 0.5)

    def decode(self, f):
        d = self.decoder
        h = F.relu(d["conv"](F.relu(d["bn"](f))))
        h = F.relu(d["fc"](h.flatten(1)))
        return d["logits"](F.dropout(h, self.dropout, True) if self.dropout > 0 else h)

    def activate(self, raw):
        return F.softmax(raw, 1)

    def reencode(self, p):
        r = self.reencoder
        v = F.relu(r["fc2"](F.relu(r["fc1"](p))))
        b, c = v.shape
        v = v.view(b, c, 1, 1)
        return [v.expand(b, c, s, s).contiguous() for s in self.sizes]  # tf.tile

    def loss(self, raw, target, mask):
        return masked_mean(softmax_ce(raw, target), mask)

    def target(self, b, S, g):
        return F.one_hot(torch.randint(0, self.classes, (b,), generator=g), self.classes).float()


class IFAN(nn.Module):
    def __init__(self, spec):
        super().__init__()
        c = spec["backbone"]
        self.S = c["inputSize"]
        self.keys = spec["bnKeys"]
        self.sites = spec["sites"]
        self.taps = spec["taps"]
        self.backbone = Backbone(c, spec["upBlocks"], self.keys)
        sizes = [self.S // 2 ** k for k in range(c["blocks"] + 1)]
        heads = {}
        for t in spec["tasks"]:
            site = self.sites[self.taps[t["name"]]]
            if t["kind"] == "parsing":
                heads[t["name"]] = ParsingHead(t, site, sizes, self.keys)
            elif t["kind"] == "landmarks":
                heads[t["name"]] = LandmarkHead(t, site, sizes, self.keys, self.S)
            elif t["kind"] == "emotion":
                heads[t["name"]] = EmotionHead(t, site, sizes, self.keys)
            else:
                raise ValueError(f"no PyTorch head for task kind {t['kind']}")
        self.heads = nn.ModuleDict(heads)
        self.names = [t["name"] for t in spec["tasks"]]
        fb = [t["feedbackChannels"] for t in spec["tasks"]]  # every level of every pyramid has F channels
        self.integrator = nn.ModuleList([conv(sum(fb), site["channels"], 1, bias=False) for site in self.sites]) \
            if spec["iterations"] > 0 else nn.ModuleList()

    def integrate_fn(self, feedback):
        pyramids = [self.heads[n].reencode(feedback[n]) for n in self.names]

        def integrate(k, h):
            level = int(math.log2(self.sites[k]["downsample"]))
            parts = [p[level] for p in pyramids]
            joined = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
            return h + self.integrator[k](joined)

        return integrate

    def forward(self, images, iterations):
        x = (images - 0.5) * 2
        raws = []
        feedback = None
        for _ in range(iterations + 1):
            integrate = self.integrate_fn(feedback) if feedback is not None else (lambda k, h: h)
            sites = self.backbone(x, integrate)
            raw = {n: self.heads[n].decode(sites[self.taps[n]]) for n in self.names}
            raws.append(raw)
            feedback = {n: self.heads[n].activate(raw[n]) for n in self.names}
        return raws


def stage_two(model, task):
    """Names of the parameters a stage-2 step of `task` updates (network.ts variables())."""
    key = task  # bnKey = task name for the built-in plugins
    sel = []
    for name, p in model.named_parameters():
        parts = name.split(".")
        if ("gamma" in parts or "beta" in parts) and parts[-1] != key:
            continue
        if parts[0] in ("backbone", "integrator"):
            sel.append(p)
        elif parts[0] == "heads" and (parts[2] == "reencoder" or (parts[2] == "decoder" and parts[1] == task)):
            sel.append(p)
    return sel


class Runner:
    def __init__(self, spec):
        torch.manual_seed(spec.get("seed", 1))
        self.spec = spec
        self.model = IFAN(spec)
        self.iterations = spec["iterations"]
        self.opt = torch.optim.RMSprop(self.model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7, momentum=0)
        self.selection = {n: set(id(p) for p in stage_two(self.model, n)) for n in self.model.names}
        self.batches = {}

    def flops(self):
        """Multiply-adds x 2 per image of one forward pass at ITER, counted by hooks on conv/linear layers."""
        counts = {"conv": 0, "linear": 0}

        def hook(m, inp, out):
            b = out.shape[0]
            if isinstance(m, nn.Conv2d):
                counts["conv"] += out.numel() // b * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            else:
                counts["linear"] += m.in_features * m.out_features

        hs = [m.register_forward_hook(hook) for m in self.model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        FLOP_EXTRA["macs"], FLOP_EXTRA["on"] = 0, True
        CTX.key = self.model.names[0]
        state = {k: v.clone() for k, v in self.model.state_dict().items()}
        with torch.no_grad():
            self.model(torch.rand(2, 3, self.model.S, self.model.S), self.iterations)
        self.model.load_state_dict(state)  # the counting pass moved the moving statistics
        FLOP_EXTRA["on"] = False
        for h in hs:
            h.remove()
        return {"conv": 2 * counts["conv"], "linear": 2 * counts["linear"], "heatmaps": 2 * FLOP_EXTRA["macs"],
                "total": 2 * (counts["conv"] + counts["linear"] + FLOP_EXTRA["macs"])}

    def shapes(self):
        return sorted(list(p.shape) for p in self.model.parameters())

    def batch(self, task, b, seed):
        k = (task, b, seed)
        if k not in self.batches:
            g = torch.Generator().manual_seed(seed)
            S = self.model.S
            self.batches[k] = (torch.rand(b, 3, S, S, generator=g), self.model.heads[task].target(b, S, g), torch.ones(b))
        return self.batches[k]

    def step(self, task, b, seed):
        images, target, mask = self.batch(task, b, seed)
        sel = self.selection[task]
        for p in self.model.parameters():
            p.requires_grad_(id(p) in sel)
        CTX.key = task
        self.opt.zero_grad(set_to_none=True)
        with torch.autograd.profiler.record_function("ifan::forward"):
            raws = self.model(images, self.iterations)
            head = self.model.heads[task]
            total = None
            for raw in raws:
                l = head.loss(raw[task], target, mask)
                total = l if total is None else total + l
        with torch.autograd.profiler.record_function("ifan::backward"):
            total.backward()
        with torch.autograd.profiler.record_function("ifan::optimizer"):
            self.opt.step()
        return total.item()


def profile(runner, tasks, b, flops):
    from torch.profiler import ProfilerActivity, profile as tprofile

    for i, t in enumerate(tasks):  # warm
        runner.step(t, b, 7000 + i)
    with tprofile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for i, t in enumerate(tasks):
            runner.step(t, b, 8000 + i)
        wall = (time.perf_counter() - t0) * 1000
    n = len(tasks)
    rows = []
    for e in prof.key_averages():
        rows.append({"name": e.key, "selfMs": e.self_cpu_time_total / 1000 / n, "totalMs": e.cpu_time_total / 1000 / n,
                     "calls": e.count / n})
    rows.sort(key=lambda r: -r["selfMs"])
    return {"msPerStep": wall / n, "ops": rows[:40]}


def main():
    runner = None
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "init":
                runner = Runner(msg["spec"])
                out = {"torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(),
                       "flops": runner.flops(), "params": sum(p.numel() for p in runner.model.parameters()),
                       "shapes": runner.shapes(), "threadsDefault": torch.get_num_threads(),
                       "config": torch.__config__.parallel_info().splitlines()[:6]}
            elif cmd == "steps":
                wall, cpu, losses = [], [], []
                for i, t in enumerate(msg["tasks"]):
                    c0, t0 = time.process_time(), time.perf_counter()
                    losses.append(runner.step(t, msg["batch"], msg["seed"] + i))
                    wall.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                out = {"wall": wall, "cpu": cpu, "losses": losses, "threads": torch.get_num_threads()}
            elif cmd == "profile":
                out = profile(runner, msg["tasks"], msg["batch"], msg.get("flops"))
            elif cmd == "quit":
                break
            else:
                raise ValueError(f"unknown command {cmd}")
        except Exception as e:  # reported to the driver, which fails loudly
            import traceback
            traceback.print_exc(file=sys.stderr)
            out = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
