"""The render side's task registry (harness/tasks/): the campaign schema is built from it, and each task's planner
plans only runs of the templates it names, with run ids that say which task they belong to."""

from __future__ import annotations

from harness.campaign import TASKS, CampaignFile, load_campaign
from harness.potentials import load_potential
from harness.render import find_structure
from harness.structures import Structure, read_cif
from harness.tasks import REGISTRY, PlanContext
from harness.tasks.planning import structure_label
from harness_testlib import REPO

RUN_ID_PREFIXES = {"conductivity": ("t3-conductivity-",), "robustness": ("t4-robustness-",),
                   "melt_quench": ("t2-meltquench-",), "forces": ("t2-forces-",),
                   "formation": ("t1-relax-", "t1-single-")}


def test_the_campaign_schema_is_the_registry():
    names = [task.name for task in REGISTRY]
    assert list(CampaignFile.model_fields) == ["campaign", *names]
    assert TASKS == {task.name: task.Settings for task in REGISTRY}
    assert set(RUN_ID_PREFIXES) == set(names)


def test_each_planner_uses_only_its_own_templates():
    """Plan every task of the default campaign on its potential, task by task, as render does."""
    campaign = load_campaign(REPO / "inputs" / "default.toml")
    potential = load_potential(campaign.settings.potentials[0], [REPO / "potentials"])
    cache: dict[str, Structure] = {}

    def structure(name: str, field: str) -> Structure:
        if name not in cache:
            cache[name] = read_cif(find_structure(name, campaign.source.parent), name=structure_label(name))
        return cache[name]

    context = PlanContext(settings=campaign.settings, source=campaign.source, potential=potential,
                          structure=structure)
    assert set(campaign.tasks) == set(TASKS), "the default campaign runs every task"
    for task in REGISTRY:
        runs = task.plan(campaign.tasks[task.name], context)
        assert runs, f"task {task.name} planned no runs"
        used = {run.template for run in runs}
        assert used <= set(task.templates), f"task {task.name} renders {used - set(task.templates)} it does not name"
        assert all(run.run_id.startswith(RUN_ID_PREFIXES[task.name]) for run in runs), task.name
        assert all(isinstance(run.structure, Structure) and run.nsteps > 0 for run in runs)
    formation = next(task for task in REGISTRY if task.name == "formation")
    files = formation.campaign_files(campaign.tasks["formation"], campaign.source)
    assert list(files) == ["formation_reference.csv"]
    assert files["formation_reference.csv"] == (campaign.source.parent / "reference" / "formation_chgnet.csv").read_text()
