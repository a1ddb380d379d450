"""Train a small MACE model (potentials/lips-mace-small.model) on the CHGNet labels of the lips-snap fit.

Steps:
  1. work/data_*.npz (the SNAP fit's CHGNet labels) -> work/mace/train.extxyz and work/mace/test.extxyz, with the
     SNAP fit's held-out split (fit_snap.SEED, fit_snap.TEST_FRACTION, same rng per group): the test file holds
     exactly the configurations fit_snap.py never fitted. 5 % of the training part (seeded) is kept aside as a
     validation set for picking the best weights.
  2. E0s: least-squares fit of the training energies to the element counts.
  3. a small ScaleShiftMACE (default: 32x0e, max_L 0, spherical harmonics up to l = 2, correlation 3,
     2 interactions, r_max 5 Å, ZBL pair repulsion), float32, Adam + EMA, trained until --minutes of wall time;
     the loss is forces_weight * MSE(force components) + energy_weight * MSE(energy per atom).
  4. the best EMA weights (lowest validation loss) are converted to float64 and saved with torch.save (the format
     MACE training writes, which `harness potentials add-mace` reads); errors of that float64 model on the
     held-out split and on inputs/reference/li7p3s11_meltquench_chgnet.extxyz go to work/mace/summary.json.

Run (mace-torch venv, one thread):
  OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python potentials/fit/train_mace.py --minutes 30
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from fit_snap import SEED, TEST_FRACTION  # noqa: E402

GROUPS = ["crystal", "md", "random", "composition", "al1", "al2", "al3"]
MACE_DIR = common.WORK_DIR / "mace"
REFERENCE = common.REPO_DIR / "inputs" / "reference" / "li7p3s11_meltquench_chgnet.extxyz"
Z_LIST = [3, 15, 16]
EV_PER_A3_TO_GPA = 160.21766208


def write_extxyz() -> tuple[Path, Path]:
    """The labelled configurations as extxyz (REF_energy, REF_forces, REF_stress in ASE's Voigt order and sign),
    split like fit_snap.accumulate_group; config_type = the group."""
    from ase import Atoms
    from ase.io import write

    MACE_DIR.mkdir(parents=True, exist_ok=True)
    train, test = [], []
    for group in GROUPS:
        configs = common.load_configs(common.WORK_DIR / f"data_{group}.npz")
        rng = np.random.default_rng(SEED + sum(map(ord, group)))
        is_test = rng.random(len(configs)) < TEST_FRACTION
        for c, held_out in zip(configs, is_test):
            a = Atoms(numbers=c.numbers, positions=c.positions_A, cell=c.cell_A, pbc=True)
            a.info.update({"REF_energy": float(c.energy_eV), "REF_stress": np.asarray(c.stress_eV_per_A3, float),
                           "config_type": group})
            a.arrays["REF_forces"] = np.asarray(c.forces_eV_per_A, float)
            (test if held_out else train).append(a)
    paths = MACE_DIR / "train.extxyz", MACE_DIR / "test.extxyz"
    for frames, path in zip((train, test), paths):
        write(path, frames, format="extxyz")
    print(f"extxyz: {len(train)} training, {len(test)} held-out configurations", flush=True)
    return paths


def read_configs(path: Path, energy_key: str = "REF_energy", forces_key: str = "REF_forces") -> list:
    from ase.io import read
    from mace.data.utils import KeySpecification, config_from_atoms

    keyspec = KeySpecification(info_keys={"energy": energy_key, "stress": "REF_stress"},
                               arrays_keys={"forces": forces_key})
    frames = read(path, index=":")
    for a in frames:  # ASE moves plain energy=/forces= columns into a calculator: put them back as labels
        if a.calc is not None:
            if energy_key not in a.info and "energy" in a.calc.results:
                a.info[energy_key] = a.calc.results["energy"]
            if forces_key not in a.arrays and "forces" in a.calc.results:
                a.arrays[forces_key] = a.calc.results["forces"]
    return [config_from_atoms(a, key_specification=keyspec) for a in frames]


def fit_e0s(configs: list) -> np.ndarray:
    counts = np.array([[np.sum(c.atomic_numbers == z) for z in Z_LIST] for c in configs], float)
    energies = np.array([c.properties["energy"] for c in configs])
    e0, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return e0


def build_model(args, e0s: np.ndarray, avg_num_neighbors: float, mean: float, rms: float):
    import torch
    from mace import modules  # before e3nn: mace makes e3nn's constants loadable under torch >= 2.6
    from e3nn import o3

    hidden = f"{args.channels}x0e" + "".join(f" + {args.channels}x{l}{'e' if l % 2 == 0 else 'o'}"
                                             for l in range(1, args.max_L + 1))
    return modules.ScaleShiftMACE(
        r_max=args.r_max, num_bessel=8, num_polynomial_cutoff=5, max_ell=args.max_ell,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        num_interactions=args.interactions, num_elements=len(Z_LIST), hidden_irreps=o3.Irreps(hidden),
        MLP_irreps=o3.Irreps("16x0e"), atomic_energies=e0s, avg_num_neighbors=avg_num_neighbors,
        atomic_numbers=Z_LIST, correlation=args.correlation, gate=torch.nn.functional.silu,
        radial_MLP=[32, 32, 32], pair_repulsion=True, atomic_inter_scale=rms, atomic_inter_shift=mean)


def batch_loss(model, batch, args):
    out = model(batch.to_dict(), training=True, compute_force=True)
    n = (batch.ptr[1:] - batch.ptr[:-1]).to(out["energy"].dtype)
    le = ((out["energy"] - batch.energy) / n).square().mean()
    lf = (out["forces"] - batch.forces).square().mean()
    return args.energy_weight * le + args.forces_weight * lf


def errors(model, loader) -> dict:
    """RMSEs per config_type and overall: energy meV/atom, force components eV/Å, stress GPa."""
    per: dict[str, dict[str, list]] = {}
    for batch in loader:
        out = model(batch.to_dict(), training=False, compute_force=True, compute_stress=True)
        n = (batch.ptr[1:] - batch.ptr[:-1]).to(out["energy"].dtype)
        de = ((out["energy"] - batch.energy) / n).detach().numpy()
        df = (out["forces"] - batch.forces).detach().numpy()
        ds = (out["stress"] - batch.stress).detach().numpy().reshape(len(n), 9)
        graph_of_atom = batch.batch.numpy()
        for g, kind in enumerate(batch.config_type if hasattr(batch, "config_type") else ["all"] * len(n)):
            for key in (kind, "all"):
                d = per.setdefault(key, {"e": [], "f": [], "s": []})
                d["e"].append(de[g])
                d["f"].append(df[graph_of_atom == g])
                d["s"].append(ds[g])
    res = {}
    for key, d in per.items():
        res[key] = {"n_configs": len(d["e"]),
                    "energy_rmse_meV_per_atom": round(float(np.sqrt(np.mean(np.square(d["e"])))) * 1e3, 2),
                    "energy_mean_error_meV_per_atom": round(float(np.mean(d["e"])) * 1e3, 2),
                    "force_rmse_eV_per_A": round(float(np.sqrt(np.mean(np.concatenate(d["f"]) ** 2))), 4),
                    "stress_rmse_GPa": round(float(np.sqrt(np.mean(np.square(d["s"])))) * EV_PER_A3_TO_GPA, 3)}
    return res


def data_loader(configs: list, r_max: float, batch_size: int, shuffle: bool):
    from mace.data import AtomicData
    from mace.tools import AtomicNumberTable, torch_geometric

    table = AtomicNumberTable(Z_LIST)
    data = []
    for c in configs:
        d = AtomicData.from_config(c, z_table=table, cutoff=r_max)
        d.config_type = c.config_type
        data.append(d)
    return torch_geometric.dataloader.DataLoader(dataset=data, batch_size=batch_size, shuffle=shuffle,
                                                 drop_last=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-time budget of the training loop")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--max-L", type=int, default=0)
    parser.add_argument("--max-ell", type=int, default=2)
    parser.add_argument("--correlation", type=int, default=3)
    parser.add_argument("--interactions", type=int, default=2)
    parser.add_argument("--r-max", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--lr-final-factor", type=float, default=0.1,
                        help="the learning rate decays exponentially in wall time to lr * this at the end")
    parser.add_argument("--ema-decay", type=float, default=0.99)
    parser.add_argument("--energy-weight", type=float, default=100.0)
    parser.add_argument("--forces-weight", type=float, default=1.0)
    parser.add_argument("--limit-configs", type=int, default=0, help="smoke test: use only this many configs")
    parser.add_argument("--out", type=Path, default=common.POTENTIALS_DIR / "lips-mace-small.model")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--eval-only", action="store_true",
                        help="no training: errors of the saved --out model on the melt-quench reference frames")
    args = parser.parse_args()
    if args.eval_only:
        import torch  # noqa: F401
        import mace  # noqa: F401

        model = torch.load(args.out, map_location="cpu", weights_only=False).eval()
        torch.set_default_dtype(torch.float64)
        ref = read_configs(REFERENCE, energy_key="energy", forces_key="forces")
        print(json.dumps(errors(model, data_loader(ref, args.r_max, 5, shuffle=False))["all"]), flush=True)
        return

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch
    from mace.modules.utils import compute_avg_num_neighbors

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    torch.set_default_dtype(torch.float32)
    t_start = time.time()

    train_path, test_path = write_extxyz()
    configs = read_configs(train_path)
    test_configs = read_configs(test_path)
    rng = np.random.default_rng(args.seed)
    is_valid = rng.random(len(configs)) < 0.05
    valid_configs = [c for c, v in zip(configs, is_valid) if v]
    train_configs = [c for c, v in zip(configs, is_valid) if not v]
    if args.limit_configs:
        train_configs = train_configs[:args.limit_configs]
        valid_configs = valid_configs[:max(1, args.limit_configs // 4)]
        test_configs = test_configs[:max(1, args.limit_configs // 4)]
    e0s = fit_e0s(train_configs)
    train_loader = data_loader(train_configs, args.r_max, args.batch_size, shuffle=True)
    valid_loader = data_loader(valid_configs, args.r_max, 8, shuffle=False)
    avg_nn = compute_avg_num_neighbors(train_loader)
    counts = np.array([[np.sum(c.atomic_numbers == z) for z in Z_LIST] for c in train_configs], float)
    e_inter = np.array([c.properties["energy"] for c in train_configs]) - counts @ e0s
    mean = float(np.mean(e_inter / counts.sum(1)))
    rms = float(np.sqrt(np.mean(np.concatenate([c.properties["forces"] for c in train_configs]) ** 2)))
    model = build_model(args, e0s, avg_nn, mean, rms)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"train {len(train_configs)} / valid {len(valid_configs)} / test {len(test_configs)} configs; "
          f"E0s {dict(zip(['Li', 'P', 'S'], np.round(e0s, 4)))}; avg_num_neighbors {avg_nn:.1f}; "
          f"mean {mean:.4f} eV/atom, force rms {rms:.3f} eV/Å; {n_params} parameters; "
          f"setup {time.time() - t_start:.0f} s", flush=True)

    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, amsgrad=True)
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema_decay))
    budget_s = args.minutes * 60.0
    t0 = time.time()
    best = (float("inf"), None, -1)
    history = []
    epoch = 0
    while time.time() - t0 < budget_s:
        model.train()
        total, nb = 0.0, 0
        for batch in train_loader:
            frac = min(1.0, (time.time() - t0) / budget_s)
            for g in optimizer.param_groups:
                g["lr"] = args.lr * args.lr_final_factor ** frac
            optimizer.zero_grad()
            loss = batch_loss(model, batch, args)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            ema.update_parameters(model)
            total += float(loss)
            nb += 1
            if time.time() - t0 > budget_s:
                break
        epoch += 1
        ema.module.eval()
        verr = errors(ema.module, valid_loader)["all"]
        vloss = (args.forces_weight * verr["force_rmse_eV_per_A"] ** 2
                 + args.energy_weight * (verr["energy_rmse_meV_per_atom"] * 1e-3) ** 2)
        if vloss < best[0]:
            best = (vloss, {k: v.detach().clone() for k, v in ema.module.state_dict().items()}, epoch)
        elapsed = time.time() - t0
        history.append({"epoch": epoch, "elapsed_s": round(elapsed), "train_loss": round(total / max(nb, 1), 5),
                        "valid_force_rmse": verr["force_rmse_eV_per_A"],
                        "valid_energy_rmse_meV": verr["energy_rmse_meV_per_atom"]})
        print(f"epoch {epoch} {elapsed:.0f} s lr {optimizer.param_groups[0]['lr']:.4g} train loss "
              f"{total / max(nb, 1):.4f}; valid (EMA) force {verr['force_rmse_eV_per_A']:.3f} eV/Å, energy "
              f"{verr['energy_rmse_meV_per_atom']:.1f} meV/atom", flush=True)
    train_s = time.time() - t0

    final = ema.module
    final.load_state_dict(best[1])
    final = final.to(torch.float64).eval()
    torch.set_default_dtype(torch.float64)
    test_loader = data_loader(test_configs, args.r_max, 8, shuffle=False)
    test_err = errors(final, test_loader)
    ref_err = None
    if REFERENCE.exists() and not args.limit_configs:
        ref = read_configs(REFERENCE, energy_key="energy", forces_key="forces")
        ref_err = errors(final, data_loader(ref, args.r_max, 5, shuffle=False))["all"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(final, args.out)
    summary = {"model": str(args.out), "model_bytes": args.out.stat().st_size, "n_parameters": n_params,
               "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "e0s_eV": dict(zip(["Li", "P", "S"], e0s.tolist())), "avg_num_neighbors": avg_nn,
               "n_train": len(train_configs), "n_valid": len(valid_configs), "n_test": len(test_configs),
               "epochs": epoch, "best_epoch": best[2], "train_wall_s": round(train_s),
               "total_wall_s": round(time.time() - t_start), "torch_threads": args.threads,
               "date": time.strftime("%Y-%m-%d"), "test_errors": test_err,
               "meltquench_reference_errors": ref_err, "history": history}
    (MACE_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("model_bytes", "epochs", "best_epoch", "train_wall_s",
                                              "test_errors", "meltquench_reference_errors")}, indent=1), flush=True)


if __name__ == "__main__":
    main()
