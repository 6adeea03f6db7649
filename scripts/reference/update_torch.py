"""PyTorch re-implementation of one trainer update pass (optional reference).

The flow-map network of trainer/model/network.ts with LoRA (trainer/model/lora.ts),
the GRPO objective of trainer/grpo.ts and AdamW, on the weights and batch that
`deno task bench-update --torch` writes (a manifest JSON and one binary file).
Not part of the project's code path or its tests: bench-update starts it as a
child process and alternates with it. Protocol on stdin/stdout, one JSON line
each: it first prints {"version", "loss", "threads"}; then for every
"time N" line it times N update passes and N forward passes and prints
{"pass": [ms...], "forward": [ms...]}; "quit" ends it.

    python3 scripts/reference/update_torch.py MANIFEST.json THREADS
"""

import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    raw = open(manifest["data"], "rb").read()
    tensors = {}
    for name, entry in manifest["tensors"].items():
        dtype = np.float32 if entry["dtype"] == "float32" else np.int32
        count = int(np.prod(entry["shape"])) if entry["shape"] else 1
        array = np.frombuffer(raw, dtype=dtype, count=count, offset=entry["offset"])
        tensors[name] = torch.from_numpy(array.copy()).reshape(entry["shape"])
    return tensors, manifest["constants"]


class Reference:
    def __init__(self, tensors, constants):
        self.p = tensors
        self.c = constants
        model = constants["model"]
        self.m = model
        lora = constants["lora"]
        self.scaling = lora["alpha"] / lora["rank"]
        self.lora = {}
        for module in lora["modules"]:
            a = tensors[f"{module}.lora_A.weight"].clone().requires_grad_(True)
            b = tensors[f"{module}.lora_B.weight"].clone().requires_grad_(True)
            self.lora[module] = (a, b)
        self.variables = [a for a, _ in self.lora.values()] + [b for _, b in self.lora.values()]
        opt = constants["optimizer"]
        self.optimizer = torch.optim.AdamW(
            self.variables,
            lr=opt["lr"],
            betas=tuple(opt["betas"]),
            eps=opt["eps"],
            weight_decay=opt["weightDecay"],
        )
        self.grad_clip = opt["gradClip"]
        half = model["frequencyDim"] // 2
        self.frequencies = torch.tensor(
            np.array(
                [constants["timeScale"] * math.exp(-math.log(10000) * i / half) for i in range(half)],
                dtype=np.float32,
            )
        )

    def linear(self, module, x):
        y = F.linear(x, self.p[f"{module}.weight"], self.p[f"{module}.bias"])
        if module in self.lora:
            a, b = self.lora[module]
            down = F.linear(x, a)
            if self.scaling != 1:
                down = down * self.scaling
            y = y + F.linear(down, b)
        return y

    def sinusoid(self, t):
        angles = t[:, None] * self.frequencies[None, :]
        return torch.cat([torch.cos(angles), torch.sin(angles)], 1)

    def mlp(self, name, h):
        return self.linear(f"{name}.linear_2", F.silu(self.linear(f"{name}.linear_1", h)))

    def network(self, x, t, r, tokens):
        m = self.m
        c, p, d = m["channels"], m["patchSize"], m["hiddenDim"]
        g = m["imageSize"] // p
        sigma_d = m["path"]["sigmaD"]
        scaled = x if sigma_d == 1 else x / sigma_d
        patches = scaled.reshape(-1, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(-1, g * g, c * p * p)
        image = self.linear("x_embedder", patches) + self.p["pos_embed"]
        words = F.embedding(tokens.long(), self.p["token_embedding.weight"])
        text = self.linear("context_embedder", words + self.p["context_pos_embed"])
        embedding = self.mlp("time_text_embed.timestep_embedder", self.sinusoid(t))
        embedding = embedding + self.mlp("time_text_embed.interval_embedder", self.sinusoid(t - r))
        embedding = embedding + self.mlp("time_text_embed.text_embedder", words.mean(1))
        cond = F.silu(embedding)
        for i in range(m["depth"]):
            image, text = self.block(f"transformer_blocks.{i}", image, text, cond, i == m["depth"] - 1)
        scale, shift = self.linear("norm_out.linear", cond).split(d, 1)
        head = self.modulate(self.norm(image), shift, scale)
        if m.get("outputHidden", 0) > 0:
            head = F.gelu(self.linear("proj_hidden", head), approximate="tanh")
        out = self.linear("proj_out", head)
        net = out.reshape(-1, g, g, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(-1, c, m["imageSize"], m["imageSize"])
        estimate = net if sigma_d == 1 else net * sigma_d
        inverse = 1 / torch.clamp(t, min=0.05)  # rectified flow: c_x = 1, c_v = -t
        return inverse[:, None, None, None] * (x - estimate)

    def norm(self, x):
        return F.layer_norm(x, (x.shape[-1],), eps=1e-6)

    @staticmethod
    def modulate(x, shift, scale):
        return x * (1 + scale[:, None, :]) + shift[:, None, :]

    def block(self, block, image, text, cond, last):
        d = self.m["hiddenDim"]
        image_mod = self.linear(f"{block}.norm1.linear", cond).split(d, 1)
        text_mod = self.linear(f"{block}.norm1_context.linear", cond).split(d, 1)
        text_shift, text_scale = (text_mod[1], text_mod[0]) if last else (text_mod[0], text_mod[1])
        h = self.modulate(self.norm(image), image_mod[0], image_mod[1])
        image_qkv = [self.linear(f"{block}.attn.{n}", h) for n in ("to_q", "to_k", "to_v")]
        h = self.modulate(self.norm(text), text_shift, text_scale)
        text_qkv = [self.linear(f"{block}.attn.{n}", h) for n in ("add_q_proj", "add_k_proj", "add_v_proj")]
        length = text.shape[1]
        q, k, v = (torch.cat([text_qkv[i], image_qkv[i]], 1) for i in range(3))
        attended = self.attention(q, k, v)

        def update(out, ff, x, mod, attn):
            _, _, gate_a, shift_m, scale_m, gate_m = mod
            mid = x + gate_a[:, None, :] * self.linear(f"{block}.{out}", attn)
            hidden = self.modulate(self.norm(mid), shift_m, scale_m)
            y = self.linear(f"{block}.{ff}.net.2", F.gelu(self.linear(f"{block}.{ff}.net.0.proj", hidden), approximate="tanh"))
            return mid + gate_m[:, None, :] * y

        new_image = update("attn.to_out.0", "ff", image, image_mod, attended[:, length:])
        if last:
            return new_image, text
        return new_image, update("attn.to_add_out", "ff_context", text, text_mod, attended[:, :length])

    def attention(self, q, k, v):
        b, s, d = q.shape
        heads = self.m["heads"]
        hd = d // heads
        split = lambda x: x.reshape(b, s, heads, hd).transpose(1, 2)
        q = split(q * (1 / math.sqrt(hd)))
        scores = torch.softmax(q @ split(k).transpose(2, 3), -1)
        return (scores @ split(v)).transpose(1, 2).reshape(b, s, d)

    def objective(self):
        c, p = self.c, self.p
        x, tokens = p["batch.x"], p["batch.tokens"]
        n = x.shape[0]
        t = torch.full((n,), c["t"], dtype=torch.float32)
        r = torch.zeros(n, dtype=torch.float32)
        u = self.network(x, t, r, tokens)
        jump, anchor = c["jump"], c["meanCoefficients"]
        x0 = jump["x"] * x + jump["u"] * u
        mean = anchor["x"] * x + anchor["x0"] * x0
        std, reduction, obj = c["std"], c["objective"]["reduction"], c["objective"]
        elements = x[0].numel()
        squares = ((p["batch.next"] - mean) ** 2).sum((1, 2, 3))
        log_prob = squares * (-1 / (2 * std * std)) + (-math.log(std) - 0.5 * math.log(2 * math.pi)) * elements
        if reduction == "mean":
            log_prob = log_prob / elements
        ratio = torch.exp(log_prob - p["batch.logProbOld"])
        adv = p["batch.advantages"]
        clipped = torch.clamp(ratio, 1 - obj["clipRange"], 1 + obj["clipRange"])
        loss = torch.maximum(-adv * ratio, -adv * clipped).mean()
        if obj["klBeta"] > 0:
            ref = ((mean - p["batch.referenceMean"]) ** 2)
            kl = (ref.mean((1, 2, 3)) if reduction == "mean" else ref.sum((1, 2, 3))) / (2 * c["klStd"] ** 2)
            loss = loss + obj["klBeta"] * kl.mean()
        return loss

    def update(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.objective()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.variables, self.grad_clip)
        self.optimizer.step()
        return loss.item()

    def forward(self):
        with torch.no_grad():
            return self.objective().item()


def timed(fn, passes):
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return times


def main():
    threads = int(sys.argv[2])
    torch.set_num_threads(threads)
    reference = Reference(*load(sys.argv[1]))
    loss = reference.forward()
    reference.update()  # warm-up
    print(json.dumps({"version": torch.__version__, "loss": loss, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        passes = int(command[1])
        result = {"pass": timed(reference.update, passes), "forward": timed(reference.forward, passes)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
