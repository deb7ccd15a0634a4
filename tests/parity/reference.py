#!/usr/bin/python3
"""Independent reference of the original train.py loop (docs/original.md), for fergan's parity test.

Run with Debian's python3-torch 1.13 (/usr/bin/python3). It rebuilds the four ORIGINAL networks as plain
nn.Sequential stacks with their Sigmoid outputs and trains them with nn.BCELoss and Adam exactly as the
original did: per batch, a D step (G output under no_grad, real and fake through D separately,
d_loss = (BCE(D(real), 1) + BCE(D(fake), 0)) / 2), then a G step (fresh G forward, g_loss = BCE(D(G(x)), 1)).
It shares no code with fergan: the only things it takes from the C++ side are the initial weights and the
batches, in a safetensors file, mapped onto its own module names by an explicit table.

usage: reference.py INPUT.safetensors OUTPUT.safetensors

INPUT holds "<net>.<fergan name>" initial states for net in img2text_generator, img2text_discriminator,
text2img_generator, text2img_discriminator; "batch.<k>.images" [B,3,64,64]; "batch.<k>.embeddings" [B,512];
metadata "steps", "lr", "beta1", "beta2", "dtype" (float32 | float64: the precision to train in; the file's
floating-point tensors are widened to it and the final states are written back in the file's precision). OUTPUT holds "<net>.<fergan name>" final states and
"img2text.losses", "text2img.losses" [steps, 2] (d_loss, g_loss) in float64.
"""
import json
import re
import struct
import sys

import torch
import torch.nn as nn

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def load_safetensors(path):
    """The safetensors format by hand: 8-byte LE header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        blob = bytearray(f.read())  # writable, so frombuffer views it without a copy
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(bytes(blob[8 : 8 + n]))
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        count = (end - begin) // torch.empty((), dtype=dtype).element_size()
        out[name] = torch.frombuffer(blob, dtype=dtype, count=count, offset=8 + n + begin).reshape(info["shape"])
    return out, meta


def save_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(chunks))


# ---- the original networks (docs/original.md), PyTorch default init, BatchNorm eps 1e-5 momentum 0.1 ----
def img2text_generator():
    return nn.Sequential(
        nn.Conv2d(3, 64, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(128, 256, 4, 2, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(256, 512))


def img2text_discriminator():
    return nn.Sequential(nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1), nn.Sigmoid())


def text2img_generator(ngf=64):
    return nn.Sequential(
        nn.Linear(512, ngf * 8 * 8 * 8), nn.Unflatten(1, (ngf * 8, 8, 8)),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1), nn.BatchNorm2d(ngf), nn.ReLU(),
        nn.ConvTranspose2d(ngf, 3, 3, 1, 1), nn.Tanh())


class PatchDiscriminator(nn.Module):
    def __init__(self, ndf=64):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0), nn.Sigmoid())

    def forward(self, x):
        return self.model(x).view(-1, 1)


# fergan name -> this file's name. Every module name is listed, so a layer added or moved on either side fails
# load_state_dict(strict=True) or the shape check.
def _renamer(rules):
    def rename(name):
        for pattern, repl in rules:
            new, n = re.subn(pattern, repl, name)
            if n:
                return new
        raise KeyError(f"no mapping for fergan tensor '{name}'")
    return rename


RENAMES = {
    "img2text_generator": _renamer([(r"^features\.(\d)\.", r"\1."), (r"^fc\.", "8.")]),
    "img2text_discriminator": _renamer([(r"^trunk\.0\.", "0."), (r"^head\.", "2.")]),
    "text2img_generator": _renamer([(r"^fc\.", "0."), (r"^net\.(\d+)\.", lambda m: f"{int(m.group(1)) + 2}.")]),
    "text2img_discriminator": _renamer([(r"^features\.(\d)\.", r"model.\1."), (r"^head\.", "model.8.")]),
}


def load_into(module, net, tensors):
    prefix = net + "."
    state = {RENAMES[net](k[len(prefix):]): v for k, v in tensors.items() if k.startswith(prefix)}
    module.load_state_dict(state, strict=True)


def export_from(module, net, fergan_names):
    ours = module.state_dict()
    return {f"{net}.{name}": ours[RENAMES[net](name)] for name in fergan_names}


def train_pair(G, D, batches, lr, betas, make_inputs):
    """The original loop body. make_inputs(images, embeddings) -> (generator input, real sample)."""
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    losses = []
    for images, embeddings in batches:
        g_input, real = make_inputs(images, embeddings)
        # Discriminator
        with torch.no_grad():
            fake = G(g_input)
        opt_d.zero_grad()
        out_real = D(real)
        out_fake = D(fake)
        d_loss = (criterion(out_real, torch.ones_like(out_real)) + criterion(out_fake, torch.zeros_like(out_fake))) / 2
        d_loss.backward()
        opt_d.step()
        # Generator
        opt_g.zero_grad()
        out = D(G(g_input))
        g_loss = criterion(out, torch.ones_like(out))
        g_loss.backward()
        opt_g.step()
        losses.append([d_loss.item(), g_loss.item()])
    return torch.tensor(losses, dtype=torch.float64)


def main():
    torch.set_num_threads(1)
    tensors, meta = load_safetensors(sys.argv[1])
    steps = int(meta["steps"])
    lr, betas = float(meta["lr"]), (float(meta["beta1"]), float(meta["beta2"]))
    batches = [(tensors[f"batch.{k}.images"], tensors[f"batch.{k}.embeddings"]) for k in range(steps)]
    nets = {
        "img2text_generator": img2text_generator(),
        "img2text_discriminator": img2text_discriminator(),
        "text2img_generator": text2img_generator(),
        "text2img_discriminator": PatchDiscriminator(),
    }
    precision = {"float32": torch.float32, "float64": torch.float64}[meta.get("dtype", "float32")]
    file_dtype = batches[0][0].dtype
    batches = [(images.to(precision), emb.to(precision)) for images, emb in batches]
    for net, module in nets.items():
        module.to(precision)  # the C++ side picks it (float64 for a well-conditioned test)
        load_into(module, net, tensors)
        module.train()
    out = {}
    # Image -> Text: real = caption embedding, fake = G(image).
    out["img2text.losses"] = train_pair(nets["img2text_generator"], nets["img2text_discriminator"], batches, lr, betas,
                                        lambda images, emb: (images, emb))
    # Text -> Image: real = image, fake = G(caption embedding).
    out["text2img.losses"] = train_pair(nets["text2img_generator"], nets["text2img_discriminator"], batches, lr, betas,
                                        lambda images, emb: (emb, images))
    for net, module in nets.items():
        names = [k[len(net) + 1:] for k in tensors if k.startswith(net + ".")]
        state = export_from(module, net, names)
        out.update({k: v.to(file_dtype) if v.is_floating_point() else v for k, v in state.items()})
    save_safetensors(sys.argv[2], out)


if __name__ == "__main__":
    main()
