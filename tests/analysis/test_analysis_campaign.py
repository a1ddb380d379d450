"""End to end: a synthetic campaign directory (docs/run-directory.md) -> analyze -> report; CLI errors."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from analysis.cli import main, report_main
from analysis_testdata import ORTHO, frame_text, random_walk_A, wrap, write_manifest, write_run, write_trajectory

K_B_EV = 8.617333262e-5
EA_EV = 0.2
D800_A2_PER_PS = 0.5
TEMPS = (400.0, 600.0, 800.0)
N_LI, N_S = 48, 16


def d_a2_per_ps(temperature: float) -> float:
    return D800_A2_PER_PS * math.exp(-EA_EV / K_B_EV * (1 / temperature - 1 / 800.0))


def _conductivity_runs(campaign, runs):
    for p_index, potential in enumerate(("toy-a", "toy-b")):
        for temperature in TEMPS:
            for repeat in (1, 2):
                run_id = f"t3-{potential}-T{temperature:.0f}-r{repeat}"
                params = {"temperature_K": temperature, "duration_ps": 299.0, "equilibration_ps": 1.0,
                          "timestep_fs": 2.0, "dump_interval_ps": 1.0, "thermostat_damping_fs": 100.0}
                directory = write_run(campaign, run_id, "conductivity", potential, params, repeat=repeat,
                                      counts={"Li": N_LI, "P": 0, "S": N_S})
                seed = int(temperature) * 10 + repeat + 100 * p_index
                li = random_walk_A(N_LI, 300, d_a2_per_ps(temperature) * (1 + 0.3 * p_index), 1.0, seed)
                s = np.repeat(random_walk_A(N_S, 1, 0.0, 1.0, seed + 1), 300, axis=0)
                write_trajectory(directory / "traj.lammpstrj", np.concatenate([li, s], axis=1), ORTHO, "unwrapped",
                                 ["Li"] * N_LI + ["S"] * N_S, steps_per_frame=500)
                runs.append((run_id, "conductivity", potential))
    run_id = "t3-toy-a-T600-r3"
    write_run(campaign, run_id, "conductivity", "toy-a", {"temperature_K": 600.0, "timestep_fs": 2.0}, state="failed",
              reason="lost_atoms", repeat=3, time_ps=12.0, counts={"Li": N_LI, "P": 0, "S": N_S})
    runs.append((run_id, "conductivity", "toy-a"))


def _robust_frames(n: int, contact_frame: int | None, seed: int, first: int = 0) -> str:
    rng = np.random.default_rng(seed)
    grid = np.array([[i, j, k] for i in range(3) for j in range(3) for k in range(3)], float) * 3.5 + 1.0
    text = ""
    for frame in range(n):
        positions = grid + rng.normal(0, 0.05, grid.shape)
        if frame == contact_frame:
            positions[1] = positions[0] + np.array([0.0, 0.0, 0.95])
        wrapped, _ = wrap(positions, ORTHO)
        columns = {"id": list(range(1, 28)), "element": ["S"] * 27, "x": [float(v) for v in wrapped[:, 0]],
                   "y": [float(v) for v in wrapped[:, 1]], "z": [float(v) for v in wrapped[:, 2]]}
        text += frame_text((first + frame) * 1000, ORTHO, columns, ["id", "element", "x", "y", "z"])
    return text


KILLED = "LAMMPS process killed by signal SIGKILL"


def _robustness_runs(campaign, runs):
    # Dumps start with the relaxed structure at step 0 (t = 0), then one frame per ps: 6 frames = 5 MD frames.
    plan = {  # (T, p): [(state, frames dumped, contact frame, truncated, time_ps, reason, message)]
        (1000.0, 1e6): [("done", 6, 0, False, 5.0, None, None), ("done", 6, 3, False, 5.0, None, None)],
        (1000.0, 1e10): [("done", 6, None, False, 5.0, None, None),
                         ("failed", 3, None, True, 2.5, "lost_atoms", None)],
        (5000.0, 1e6): [("failed", 0, None, False, 0.0, "lost_atoms", None),
                        ("failed", 1, 0, False, 0.4, "non_finite", None)],
        (5000.0, 1e10): [("failed", 3, 1, False, 2.5, "lost_atoms", None), ("running", 1, None, False, 0.5, None, None)],
        (8000.0, 1e6): [("done", 6, None, False, 5.0, None, None), ("failed", 4, None, False, 3.0, "wall_time", None),
                        ("failed", 2, None, False, 1.0, "crashed", KILLED)],
        (8000.0, 1e10): [("done", 6, None, False, 5.0, None, None), ("failed", 2, None, False, 1.0, "lost_atoms", None),
                         ("failed", 2, None, False, 1.0, "io_error", None)],
    }
    relax = {1: {"iterations": 40, "max_iterations": 100, "max_force_eV_per_A": 0.0004,
                 "force_norm_eV_per_A": 0.0009, "force_tolerance_eV_per_A": 0.001, "pe_eV": -100.0},
             2: {"iterations": 100, "max_iterations": 100, "max_force_eV_per_A": 0.3,
                 "force_norm_eV_per_A": 1.2, "force_tolerance_eV_per_A": 0.001, "pe_eV": -99.0}}
    for (temperature, pressure), repeats in plan.items():
        for repeat, (state, frames, contact, truncated, time_ps, reason, message) in enumerate(repeats, 1):
            run_id = f"t4-toy-a-T{temperature:.0f}-p{pressure:.0e}-r{repeat}"
            params = {"temperature_K": temperature, "pressure_Pa": pressure, "pressure_bar": pressure / 1e5,
                      "duration_ps": 5.0, "timestep_fs": 1.0, "dump_interval_ps": 1.0, "relax": True}
            directory = write_run(campaign, run_id, "robustness", "toy-a", params, state=state, repeat=repeat,
                                  reason=reason, time_ps=time_ps, counts={"Li": 0, "P": 0, "S": 27})
            if message:
                status = json.loads((directory / "status.json").read_text())
                (directory / "status.json").write_text(json.dumps({**status, "message": message}))
            if (temperature, pressure) == (1000.0, 1e6):
                (directory / "relax.json").write_text(json.dumps(relax[repeat]))
            text = _robust_frames(frames, contact, repeat)
            if truncated:
                text += _robust_frames(1, None, 9, first=frames)[:300]
            if frames or truncated:
                (directory / "traj.lammpstrj").write_text(text)
            runs.append((run_id, "robustness", "toy-a"))


E_LI2S_ATOM, E_P2S5_ATOM = -4.1, -4.6
CRYSTALS = {  # structure: (counts, E_f meV/atom that the potential should give)
    "Li2S": ({"Li": 8, "P": 0, "S": 4}, 0.0),
    "P2S5": ({"Li": 0, "P": 4, "S": 10}, 0.0),
    "Li7P3S11": ({"Li": 14, "P": 6, "S": 22}, -40.0),
    "gamma-Li3PS4": ({"Li": 6, "P": 2, "S": 8}, -55.0),
}
REFERENCE_E_F = {"Li7P3S11": -43.0, "gamma-Li3PS4": -51.0}


def _formation_runs(campaign, runs):
    for potential, skip in (("toy-a", None), ("toy-b", "P2S5")):
        for structure, (counts, e_f) in CRYSTALS.items():
            if structure == skip:
                continue
            natoms = sum(counts.values())
            # total energy built from the definition: E = sum of end-point energies + natoms * E_f
            energy = counts["Li"] / 2 * 3 * E_LI2S_ATOM + counts["P"] / 2 * 7 * E_P2S5_ATOM + natoms * e_f / 1000
            run_id = f"t1-relax-{potential}-{structure}"
            directory = write_run(campaign, run_id, "relax", potential,
                                  {"structure": structure, "formula": structure, "relax_box": True},
                                  counts=counts, structure=structure)
            (directory / "result.json").write_text(json.dumps({"energy_eV": energy, "natoms": natoms,
                                                               "volume_A3": 100.0, "pressure_bar": 0.0}))
            runs.append((run_id, "relax", potential))


def _forces_runs(campaign, runs):
    directory = write_run(campaign, "t2-forces-toy-a", "forces", "toy-a",
                          {"reference": "ref.extxyz", "nframes": 3}, counts={"Li": 2, "P": 0, "S": 1})
    rng = np.random.default_rng(0)
    extxyz, dump, energies = "", "", "# frame pe_eV\n"
    for frame in range(3):
        ref = rng.normal(size=(3, 3))
        pred = ref + 0.1 * (frame + 1)
        extxyz += (f'3\nLattice="10 0 0 0 10 0 0 0 10" Properties=species:S:1:pos:R:3:forces:R:3 '
                   f'energy={-10.0 - frame} temperature_K={300 + 600 * frame}\n')
        for k, element in enumerate(("Li", "Li", "S")):
            extxyz += f"{element} {k} 0 0 {float(ref[k, 0])!r} {float(ref[k, 1])!r} {float(ref[k, 2])!r}\n"
        columns = {"id": [1, 2, 3], "element": ["Li", "Li", "S"], "fx": list(map(float, pred[:, 0])),
                   "fy": list(map(float, pred[:, 1])), "fz": list(map(float, pred[:, 2]))}
        dump += frame_text(0, np.diag([10.0] * 3), columns, ["id", "element", "fx", "fy", "fz"])
        energies += f"{frame} {-9.0 - frame + 0.01 * frame}\n"
    (directory / "ref.extxyz").write_text(extxyz)
    (directory / "forces.lammpstrj").write_text(dump)
    (directory / "energies.dat").write_text(energies)
    runs.append(("t2-forces-toy-a", "forces", "toy-a"))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    campaign = tmp_path_factory.mktemp("campaign")
    runs: list = []
    _conductivity_runs(campaign, runs)
    _robustness_runs(campaign, runs)
    _formation_runs(campaign, runs)
    _forces_runs(campaign, runs)
    write_manifest(campaign, runs)
    reference = campaign / "reference.csv"
    reference.write_text("structure,E_f_meV_per_atom\n" + "".join(f"{k},{v}\n" for k, v in REFERENCE_E_F.items()))
    assert main([str(campaign), "--formation-reference", str(reference)]) == 0
    return campaign


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _ne_by_hand(d_cm2_s: float, n: int, volume_A3: float, temperature: float) -> float:
    return n / (volume_A3 * 1e-30) * (1.602176634e-19) ** 2 * d_cm2_s * 1e-4 / (1.380649e-23 * temperature) * 10


def test_conductivity_tables(campaign):
    runs = _rows(campaign / "results" / "conductivity_runs.csv")
    assert len(runs) == 13
    failed = [r for r in runs if r["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["d_cm2_per_s"] == "" and "lost_atoms" in failed[0]["message"]
    volume = float(np.linalg.det(ORTHO))
    for row in runs:
        if row["state"] != "done":
            continue
        d = float(row["d_cm2_per_s"])
        assert float(row["volume_A3"]) == pytest.approx(volume)
        assert float(row["sigma_mS_per_cm"]) == pytest.approx(_ne_by_hand(d, N_LI, volume, float(row["temperature_K"])),
                                                               rel=1e-3)
        expected = d_a2_per_ps(float(row["temperature_K"])) * 1e-4 * (1.3 if row["potential"] == "toy-b" else 1.0)
        assert d == pytest.approx(expected, rel=0.25)
    table = _rows(campaign / "results" / "conductivity.csv")
    fit = [r for r in table if r["kind"] == "arrhenius_298K" and r["potential"] == "toy-a"][0]
    assert float(fit["ea_eV"]) == pytest.approx(EA_EV, rel=0.15)
    assert float(fit["sigma_mS_per_cm"]) == pytest.approx(_ne_by_hand(float(fit["d_cm2_per_s"]), N_LI, volume, 298.0),
                                                          rel=1e-3)
    # the paper's band for crystalline Li7P3S11 (experiment and AIMD, 4-84 mS/cm), and the flag the fitted
    # sigma(298 K) earns in it: exactly one of inside / above / below
    sigma298 = float(fit["sigma_mS_per_cm"])
    low, high = float(fit["band_low_mS_per_cm"]), float(fit["band_high_mS_per_cm"])
    assert (fit["literature_band"], low, high) == ("crystal", 4.0, 84.0)
    expected_flag = "above" if sigma298 > high else "below" if sigma298 < low else "inside"
    assert fit["literature_flag"] == expected_flag
    # the synthetic walkers' own sigma(298 K) (Ea, D(800 K) by construction), within the error that the
    # Ea tolerance above allows when extrapolating from 400-800 K down to 298 K
    d298_by_hand = d_a2_per_ps(298.0) * 1e-4
    assert abs(math.log(sigma298 / _ne_by_hand(d298_by_hand, N_LI, volume, 298.0))) < math.log(3.0)
    simulated = [r for r in table if r["kind"] == "simulated" and r["potential"] == "toy-a"]
    t600 = [r for r in simulated if float(r["temperature_K"]) == 600.0][0]
    assert (t600["n_repeats"], t600["n_used"], t600["n_failed"]) == ("3", "2", "1")
    d_runs = [float(r["d_cm2_per_s"]) for r in runs if r["potential"] == "toy-a" and r["state"] == "done"
              and float(r["temperature_K"]) == 600.0]
    assert float(t600["d_cm2_per_s"]) == pytest.approx(np.mean(d_runs), rel=1e-6)


def test_robustness_table(campaign):
    rows = {(float(r["temperature_K"]), float(r["pressure_Pa"])): r
            for r in _rows(campaign / "results" / "robustness.csv")}
    full = rows[(1000.0, 1e6)]
    # 5 MD frames per repeat; the contact in the t = 0 frame of repeat 1 is not an MD frame: 1 of 10
    assert full["survival"] == "all" and full["n_frames"] == "10" and full["n_contact_frames"] == "1"
    assert full["close_contact_label"] == "10%" and float(full["close_contact_percent"]) == pytest.approx(10.0)
    assert (full["n_relaxed"], full["n_relax_converged"], full["relax_iterations"]) == ("2", "1", "40;100")
    assert full["relax_max_force_eV_per_A"] == "0.0004;0.3"
    some = rows[(1000.0, 1e10)]
    # 5 + 2 MD frames (the truncated last frame of the crashed run is dropped)
    assert some["survival"] == "some" and some["times_to_failure_ps"] == "2.5" and some["n_frames"] == "7"
    none = rows[(5000.0, 1e6)]   # both failed before the first MD frame (one wrote only t = 0): a dash
    assert none["survival"] == "none" and none["n_frames"] == "0"
    assert none["close_contact_label"] == "—" and none["close_contact_percent"] == ""
    unfinished = rows[(5000.0, 1e10)]
    assert unfinished["survival"] == "incomplete" and unfinished["n_unfinished"] == "1"
    assert unfinished["n_contact_frames"] == "1" and unfinished["n_frames"] == "2"
    external = rows[(8000.0, 1e6)]   # wall time and a SIGKILL are not the potential's failures
    assert (external["n_survived"], external["n_failed"], external["n_incomplete"]) == ("1", "0", "2")
    assert external["survival"] == "incomplete" and external["incomplete_reasons"] == "wall_time;crashed"
    assert external["failure_reasons"] == "" and external["times_to_failure_ps"] == ""
    mixed = rows[(8000.0, 1e10)]     # one survived, one failed: "some" whatever the incomplete one did
    assert (mixed["survival"], mixed["n_failed"], mixed["n_incomplete"]) == ("some", "1", "1")
    per_run = {r["run_id"]: r for r in _rows(campaign / "results" / "robustness_runs.csv")}
    assert per_run["t4-toy-a-T8000-p1e+06-r3"]["outcome"] == "incomplete"
    assert per_run["t4-toy-a-T8000-p1e+10-r2"]["outcome"] == "failed"
    assert per_run["t4-toy-a-T1000-p1e+06-r1"]["relax_converged"] == "true"
    assert per_run["t4-toy-a-T1000-p1e+06-r2"]["relax_converged"] == "false"
    assert per_run["t4-toy-a-T1000-p1e+10-r1"]["relax_converged"] == ""


def test_formation_table(campaign):
    rows = _rows(campaign / "results" / "formation.csv")
    a = {r["structure"]: r for r in rows if r["potential"] == "toy-a"}
    for structure in ("Li7P3S11", "gamma-Li3PS4"):
        assert float(a[structure]["E_f_meV_per_atom"]) == pytest.approx(CRYSTALS[structure][1], abs=1e-6)
    b = {r["structure"]: r for r in rows if r["potential"] == "toy-b"}
    assert b["Li7P3S11"]["E_f_meV_per_atom"] == "" and b["Li7P3S11"]["energy_eV"] != ""
    summary = json.loads((campaign / "results" / "summary.json").read_text())
    rmse = summary["formation"]["rmse"]["toy-a/relax"]["rmse_E_f_meV_per_atom"]
    assert rmse == pytest.approx(math.sqrt((3.0**2 + 4.0**2) / 2))
    assert "HT-Li7PS6" in summary["formation"]["missing_crystals"]
    assert any("P2S5" in note and "toy-b" in note for note in summary["notes"])
    assert any("lacks 6 of the paper's eight crystals" in note for note in summary["notes"])
    assert {f["run_id"] for f in summary["failed_runs"]} >= {"t3-toy-a-T600-r3"}


def test_forces_tables(campaign):
    (row,) = _rows(campaign / "results" / "forces.csv")
    assert row["nframes"] == "3"
    expected = math.sqrt(np.mean([(0.1 * (k + 1)) ** 2 for k in range(3)]))
    assert float(row["force_rmse_eV_per_A"]) == pytest.approx(expected)
    frames = _rows(campaign / "results" / "forces_frames.csv")
    assert [float(f["force_rmse_eV_per_A"]) for f in frames] == pytest.approx([0.1, 0.2, 0.3])
    assert [f["temperature_K"] for f in frames] == ["300", "900", "1500"]


def test_report(campaign):
    assert report_main([str(campaign)]) == 0
    index = campaign / "report" / "index.html"
    text = index.read_text()
    for name in ("arrhenius.png", "robustness.png", "forces.png", "formation.png"):
        assert (campaign / "report" / name).stat().st_size > 1000
        assert name in text
    assert "data:image/png;base64," in text and "toy-b" in text and "Summary by potential" in text


# -- bad input -----------------------------------------------------------------------------------------
def _one_line_error(capsys, code):
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_empty_campaign(tmp_path, capsys):
    line = _one_line_error(capsys, main([str(tmp_path)]))
    assert "no manifest.json" in line
    write_manifest(tmp_path, [])
    line = _one_line_error(capsys, main([str(tmp_path)]))
    assert "lists no runs" in line
    line = _one_line_error(capsys, report_main([str(tmp_path)]))
    assert "summary.json" in line


def test_truncated_dump_and_missing_column(tmp_path, capsys):
    positions = random_walk_A(4, 10, 0.1, 1.0, 0)
    path = write_trajectory(tmp_path / "t.lammpstrj", positions, ORTHO, "unwrapped", ["Li"] * 4)
    text = path.read_text()
    cut = tmp_path / "cut.lammpstrj"
    cut.write_text(text[:-20])
    line = _one_line_error(capsys, main(["msd", str(cut), "--species", "Li", "--timestep-ps", "0.001"]))
    assert "truncated" in line
    assert main(["msd", str(cut), "--species", "Li", "--timestep-ps", "0.001", "--allow-truncated",
                 "--blocks", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nframes"] == 9
    no_coordinates = tmp_path / "nc.lammpstrj"
    no_coordinates.write_text(text.replace("xu yu zu", "vx vy vz"))
    line = _one_line_error(capsys, main(["contacts", str(no_coordinates)]))
    assert "no coordinate columns" in line
    line = _one_line_error(capsys, main(["msd", str(path), "--species", "Na", "--timestep-ps", "0.001"]))
    assert "no atoms of Na" in line
    line = _one_line_error(capsys, main(["msd", str(path)]))
    assert "--timestep-ps" in line


def test_reference_with_unknown_structure(campaign, tmp_path, capsys):
    reference = tmp_path / "bad.csv"
    reference.write_text("structure,E_f_meV_per_atom\nLi7P3S11,-40\nLi3PS5,-20\n")
    line = _one_line_error(capsys, main([str(campaign), "--formation-reference", str(reference)]))
    assert "unknown structures: Li3PS5" in line


def test_standalone_commands(campaign, capsys):
    directory = campaign / "runs" / "t3-toy-a-T800-r1"
    assert main(["msd", str(directory / "traj.lammpstrj"), "--species", "Li", "--timestep-ps", "0.002",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["d_cm2_per_s"] == pytest.approx(D800_A2_PER_PS * 1e-4, rel=0.25)
    robust = campaign / "runs" / "t4-toy-a-T1000-p1e+06-r1" / "traj.lammpstrj"
    assert main(["contacts", str(robust), "--threshold", "1.0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_contact_frames"] == 1 and result["n_frames"] == 6   # every frame of the dump, t = 0 too
    forces = campaign / "runs" / "t2-forces-toy-a"
    assert main(["forces", str(forces / "ref.extxyz"), str(forces / "forces.lammpstrj")]) == 0
    assert "force_rmse_eV_per_A" in capsys.readouterr().out


def test_li_jumps_table(campaign):
    from analysis.jumps import jumps_from_dump

    rows = _rows(campaign / "results" / "li_jumps.csv")
    runs = _rows(campaign / "results" / "conductivity_runs.csv")
    assert len(rows) == len(runs) == 13
    failed = [r for r in rows if r["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["n_hops"] == "" and "lost_atoms" in failed[0]["message"]
    d_msd = {r["run_id"]: r["d_cm2_per_s"] for r in runs}
    for row in rows:
        if row["state"] != "done":
            continue
        # the one-pass campaign numbers equal the standalone analysis of the same dump
        alone = jumps_from_dump(campaign / "runs" / row["run_id"] / "traj.lammpstrj", 0.002).summary()
        assert int(row["n_hops"]) == alone["n_hops"] and int(row["n_li"]) == N_LI
        assert float(row["mean_residence_ps"]) == pytest.approx(alone["mean_residence_ps"], rel=1e-6)
        assert float(row["d_jump_cm2_per_s"]) == pytest.approx(alone["d_jump_cm2_per_s"], rel=1e-6)
        assert row["d_msd_cm2_per_s"] == d_msd[row["run_id"]]
