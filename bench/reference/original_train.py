#!/usr/bin/python3
"""The original train.py as its users ran it, for bench/compare.sh to measure fergan against.

Run with Debian's python3-torch, python3-torchvision and python3-pil (/usr/bin/python3). What it keeps from the
original (docs/original.md), because each of these costs time or memory in the original:
- torchvision ImageFolder over <root>/<split>/<emotion>/*.{jpg,png} with the original transforms (3 grey
  channels, bilinear resize to 64x64, [-1, 1]) and a DataLoader with shuffling, drop_last off and worker
  processes;
- a frozen CLIP ViT-B/32 held in memory, whose text tower encodes the batch's captions on every batch
  (tokenised to the 77-token context, every position through all 12 layers, as CLIP's encode_text does).
  The weights are random (seeded): the cost is the real model's, the embeddings are not;
- the four original networks with Sigmoid outputs, nn.BCELoss, Adam, the D step then the G step;
- console output every 100 batches and per epoch, a checkpoint at the last epoch.

The networks are those of tests/parity/reference.py (imported, so the two cannot drift apart); the training
step below is this program's own and is what `--parity-step` runs for the one-step test
(tests/gan/test_parity.cpp), with the reference's file protocol.

The last line of output is one JSON object with the timings of each phase (images/s over the training loop,
and how the loop's time split into data wait, caption encoding and the GAN step).

usage: original_train.py --data ROOT [--phase both|img2text|text2img] [--epochs 1] [--threads 0]
                         [--workers 2] [--batch-size 32] [--checkpoint-dir DIR] [--seed 42]
       original_train.py --parity-step INPUT.safetensors OUTPUT.safetensors
"""
import argparse
import json
import os
import sys
import time
import zlib

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "parity"))
import reference  # noqa: E402  (the original networks and the parity file protocol)

# FER2013's emotion folders and the one caption the original used for each (docs/original.md).
CAPTIONS = {
    "angry": "a person with an angry expression",
    "disgust": "a person with a disgusted expression",
    "fear": "a person with a fearful expression",
    "happy": "a person with a happy expression",
    "sad": "a person with a sad expression",
    "surprise": "a person with a surprised expression",
    "neutral": "a person with a neutral expression",
}


# ---- CLIP ViT-B/32, shaped as OpenAI's (width 512 text / 768 vision, 12 layers, context 77) ----
class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)
        self.mask = mask

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.mask)[0]
        return x + self.mlp(self.ln_2(x))


class ClipViTB32(nn.Module):
    """Both towers, as clip.load("ViT-B/32") holds them; only the text tower runs (encode_text)."""

    def __init__(self, context=77, vocab=49408, width=512, layers=12, heads=8, embed=512):
        super().__init__()
        mask = torch.full((context, context), float("-inf")).triu_(1)  # causal, as CLIP's text tower
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.randn(context, width) * 0.01)
        self.transformer = nn.Sequential(*[ResidualAttentionBlock(width, heads, mask) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed) * width ** -0.5)
        # The vision tower (224 px, patch 32, width 768, 12 layers): never run here, but the original held it.
        self.visual = nn.ModuleDict({
            "conv1": nn.Conv2d(3, 768, 32, 32, bias=False),
            "transformer": nn.Sequential(*[ResidualAttentionBlock(768, 12) for _ in range(12)]),
            "proj": nn.Linear(768, embed, bias=False),
        })
        self.context = context

    def encode_text(self, tokens):
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)  # [L, B, D] for nn.MultiheadAttention
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection


def tokenize(captions, context=77, vocab=49408):
    """[B, 77] token ids: start, one id per word, end (the largest id, found by argmax as CLIP does), zeros.
    A stand-in for CLIP's BPE; the text tower's cost does not depend on which ids it sees."""
    out = torch.zeros(len(captions), context, dtype=torch.long)
    for i, caption in enumerate(captions):
        ids = [vocab - 2] + [1 + zlib.crc32(w.encode()) % (vocab - 3) for w in caption.lower().split()]
        ids = ids[: context - 1] + [vocab - 1]
        out[i, : len(ids)] = torch.tensor(ids)
    return out


# ---- the training step: D step, then G step (docs/original.md) ----
def train_step(G, D, opt_g, opt_d, criterion, g_input, real):
    with torch.no_grad():
        fake = G(g_input)
    opt_d.zero_grad()
    out_real = D(real)
    out_fake = D(fake)
    d_loss = (criterion(out_real, torch.ones_like(out_real)) + criterion(out_fake, torch.zeros_like(out_fake))) / 2
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    out = D(G(g_input))
    g_loss = criterion(out, torch.ones_like(out))
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def make_pair(phase, lr, betas):
    if phase == "img2text":
        G, D = reference.img2text_generator(), reference.img2text_discriminator()
    else:
        G, D = reference.text2img_generator(), reference.PatchDiscriminator()
    return (G, D, torch.optim.Adam(G.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(D.parameters(), lr=lr, betas=betas))


def parity_step(in_path, out_path):
    """tests/parity/reference.py's file protocol, with this program's train_step."""
    torch.set_num_threads(1)
    tensors, meta = reference.load_safetensors(in_path)
    steps = int(meta["steps"])
    lr, betas = float(meta["lr"]), (float(meta["beta1"]), float(meta["beta2"]))
    precision = {"float32": torch.float32, "float64": torch.float64}[meta.get("dtype", "float32")]
    file_dtype = tensors["batch.0.images"].dtype
    batches = [(tensors[f"batch.{k}.images"].to(precision), tensors[f"batch.{k}.embeddings"].to(precision))
               for k in range(steps)]
    out = {}
    for phase in ("img2text", "text2img"):
        G, D, opt_g, opt_d = make_pair(phase, lr, betas)
        nets = {f"{phase}_generator": G, f"{phase}_discriminator": D}
        for net, module in nets.items():
            module.to(precision)
            reference.load_into(module, net, tensors)
            module.train()
        # Optimizers hold the parameters themselves, so loading in place after building them is fine.
        criterion = nn.BCELoss()
        losses = []
        for images, emb in batches:
            g_input, real = (images, emb) if phase == "img2text" else (emb, images)
            losses.append(train_step(G, D, opt_g, opt_d, criterion, g_input, real))
        out[f"{phase}.losses"] = torch.tensor(losses, dtype=torch.float64)
        for net, module in nets.items():
            names = [k[len(net) + 1:] for k in tensors if k.startswith(net + ".")]
            state = reference.export_from(module, net, names)
            out.update({k: v.to(file_dtype) if v.is_floating_point() else v for k, v in state.items()})
    reference.save_safetensors(out_path, out)


def train_phase(phase, args, loader, clip_model, captions_of):
    title, tag = ("Image -> Text", "Img2Text") if phase == "img2text" else ("Text -> Image", "Text2Img")
    print(f"Training {title} GAN on cpu", flush=True)
    G, D, opt_g, opt_d = make_pair(phase, 2e-4, (0.5, 0.999))
    criterion = nn.BCELoss()
    timing = {"data_wait_s": 0.0, "clip_s": 0.0, "step_s": 0.0, "images": 0}
    start = time.perf_counter()
    for epoch in range(args.epochs):
        d_sum = g_sum = 0.0
        batches = 0
        t = time.perf_counter()
        for images, labels in loader:
            t_data = time.perf_counter()
            with torch.no_grad():
                emb = clip_model.encode_text(tokenize([captions_of[int(k)] for k in labels]))
            t_clip = time.perf_counter()
            g_input, real = (images, emb) if phase == "img2text" else (emb, images)
            d_loss, g_loss = train_step(G, D, opt_g, opt_d, criterion, g_input, real)
            t_step = time.perf_counter()
            timing["data_wait_s"] += t_data - t
            timing["clip_s"] += t_clip - t_data
            timing["step_s"] += t_step - t_clip
            timing["images"] += images.shape[0]
            d_sum, g_sum, batches = d_sum + d_loss, g_sum + g_loss, batches + 1
            if batches % 100 == 0:
                print(f"  Batch {batches}/{len(loader)}: D_loss={d_loss:.4f}, G_loss={g_loss:.4f}", flush=True)
            t = time.perf_counter()
        print(f"[{tag}] Epoch {epoch + 1}/{args.epochs} done - Avg D_loss: {d_sum / batches:.4f}, "
              f"Avg G_loss: {g_sum / batches:.4f}", flush=True)
        if (epoch + 1) % 10 == 0 or epoch + 1 == args.epochs:
            os.makedirs(args.checkpoint_dir, exist_ok=True)
            torch.save(G.state_dict(), os.path.join(args.checkpoint_dir, f"{phase}_generator_epoch_{epoch + 1}.pth"))
            torch.save(D.state_dict(),
                       os.path.join(args.checkpoint_dir, f"{phase}_discriminator_epoch_{epoch + 1}.pth"))
            print(f"  Saved checkpoints to {args.checkpoint_dir}", flush=True)
    timing["loop_s"] = time.perf_counter() - start
    timing["images_per_s"] = timing["images"] / timing["loop_s"]
    return timing


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--parity-step":
        parity_step(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="image folders <data>/<split>/<emotion>/*.jpg")
    p.add_argument("--split", default="train")
    p.add_argument("--phase", default="both", choices=["both", "img2text", "text2img"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0 = torch's default")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--checkpoint-dir", default="experiments/reference/checkpoints")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    # Imported here so that --parity-step needs neither torchvision nor PIL.
    from torchvision import datasets, transforms

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    transform = transforms.Compose([
        transforms.Grayscale(num_output_channels=3),
        transforms.Resize((64, 64)),  # bilinear
        transforms.ToTensor(),
        transforms.Normalize([0.5] * 3, [0.5] * 3),
    ])
    dataset = datasets.ImageFolder(os.path.join(args.data, args.split), transform=transform)
    captions_of = {i: CAPTIONS[name] for i, name in enumerate(dataset.classes)}
    clip_model = ClipViTB32().eval()
    for param in clip_model.parameters():
        param.requires_grad_(False)
    phases = ["img2text", "text2img"] if args.phase == "both" else [args.phase]
    results = {}
    for phase in phases:
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=False,
                                             num_workers=args.workers)
        results[phase] = train_phase(phase, args, loader, clip_model, captions_of)
        print()
    print(json.dumps({"program": "reference", "threads": torch.get_num_threads(), "workers": args.workers,
                      "images_in_split": len(dataset), "phases": results}), flush=True)


if __name__ == "__main__":
    main()
