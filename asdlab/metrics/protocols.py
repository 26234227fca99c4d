"""Each year's official DCASE Task 2 scoring protocol: names, rules, and which one the data call for.

=============  ================================================  =====================================
protocol       per (machine, section) values                     official score
=============  ================================================  =====================================
``dcase2020``  AUC and pAUC over every test clip of the machine  arithmetic mean: each machine type's
               ID (the ID is the section; no domains)            mean of its IDs' AUCs and pAUCs, then
                                                                 the mean over machine types
``dcase2021``  per domain: AUC and pAUC over that domain's       harmonic mean of every ``s_auc``,
               normals and that domain's anomalies (``s_auc``,   ``t_auc``, ``s_pauc``, ``t_pauc``
               ``t_auc``, ``s_pauc``, ``t_pauc``)
``dcase2022``  AUC(source), AUC(target): the domain's normals    harmonic mean of every AUC(source),
to             against every anomaly of the section; pAUC over   AUC(target) and pAUC
``dcase2025``  the whole section
=============  ================================================  =====================================

pAUC is always scikit-learn's McClish-standardised ``roc_auc_score(..., max_fpr=0.1)``; every
harmonic mean floors its values at machine epsilon, as the evaluators do.

Checked against (read, not copied):

- 2020: ``y-kawagu/dcase2020_task2_evaluator`` ``evaluator.py`` (AUC and pAUC per machine ID; the
  "Average" row of a machine type is the mean over its IDs; it prints no overall score) and ASDKit
  (``TakuyaFujimura/dcase-asd-toolkit``) ``asdkit/utils/asdkit_utils/evaluate.py`` (``official20`` of
  a machine type = mean of its IDs' ``s_auc`` and ``s_pauc``) with ``asdkit/bin/table.py`` (the total
  is the arithmetic mean over machine types). The two agree with the mean of every value when every
  type has the same number of IDs; on the real development set (ToyConveyor 3 IDs, the others 4)
  they differ, and asdlab follows ASDKit, whose published 2020 numbers it is compared with.
- 2021: ``y-kawagu/dcase2021_task2_evaluator`` ``dcase2021_task2_evaluator.py`` (scores per
  ``source_test`` / ``target_test`` file; ``official score`` = harmonic mean of the AUC and pAUC of
  every machine, section and domain) and ASDKit ``official21``.
- 2022: ``Kota-Dohi/dcase2022_evaluator`` ``dcase2022_task2_evaluator.py``; 2023:
  ``nttcslab/dcase2023_task2_evaluator`` ``dcase2023_task2_evaluator.py``; 2024:
  ``nttcslab/dcase2024_task2_evaluator`` ``dcase2024_task2_evaluator.py`` (``AUC (source)`` uses
  ``(y_domain == d) | (y_true != 0)``; ``official score`` = hmean of AUC source + AUC target + pAUC;
  ``official score ci95`` from a jackknife over the pooled clips); ASDKit ``official22``-``24``.
- 2025: ``nttcslab/dcase2025_task2_evaluator`` ``README.md`` (its repository could not be fetched
  here): same columns, and its sample output's ``official score`` 0.5442827820713174 is the harmonic
  mean of the 24 AUC source / AUC target / pAUC values of its paper table
  (``tests/test_protocols.py`` recomputes it), with an ``official score ci95`` line as in 2022-2024.

Which protocol data call for (:func:`detect_protocol`): clips found in ``source_test/`` or
``target_test/`` folders (the 2021 layout; column ``folder`` of the clip table) -> ``dcase2021``;
no domains and DCASE 2020 names (``[normal_|anomaly_]id_XX_NNNNNNNN.wav``) -> ``dcase2020``;
anything else -> :data:`DEFAULT_PROTOCOL` (``dcase2024``, today's rule: 2022 to 2025 score alike).
"""

from __future__ import annotations

import re

from asdlab.core.errors import ConfigError

PROTOCOLS = ("dcase2020", "dcase2021", "dcase2022", "dcase2023", "dcase2024", "dcase2025")
"""Every protocol name, oldest first."""
AUTO = "auto"
DEFAULT_PROTOCOL = "dcase2024"
"""What data that show neither the 2020 names nor the 2021 layout are scored with (2022-2025 alike)."""
RULES = {"dcase2020": "2020", "dcase2021": "2021", "dcase2022": "2022", "dcase2023": "2022",
         "dcase2024": "2022", "dcase2025": "2022"}
"""The rule each protocol follows: ``"2020"``, ``"2021"`` or ``"2022"`` (2022 to 2025)."""
FOLDERS_2021 = ("source_test", "target_test")
"""The test folders of the DCASE 2021 layout."""
DOMAIN_COLUMNS_2021 = ("s_auc", "t_auc", "s_pauc", "t_pauc")
"""Section-table columns of the 2021 rule: AUC / pAUC over one domain's clips only."""
_NAME_2020 = re.compile(r"(?:^|[\\/])(?:(?:normal|anomaly)_)?id_\d{2}_\d+\.wav$", re.IGNORECASE)

_RULE_TEXT = {
    "2020": "AUC and pAUC per machine ID over all its test clips; official score = arithmetic mean "
            "over machine types of each type's mean AUC and pAUC",
    "2021": "AUC and pAUC per section and domain over that domain's normal and anomalous clips; "
            "official score = harmonic mean of all of them",
    "2022": "AUC per domain (its normals against every anomaly of the section), pAUC over the section; "
            "official score = harmonic mean of all of them",
}


def check_protocol(protocol: str) -> str:
    """``protocol`` itself when it is one of :data:`PROTOCOLS`; :class:`ConfigError` otherwise."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose from {AUTO}, {', '.join(PROTOCOLS)}")
    return protocol


def protocol_rule(protocol: str) -> str:
    """``"2020"``, ``"2021"`` or ``"2022"``: the rule ``protocol`` scores with."""
    return RULES[check_protocol(protocol)]


def describe_protocol(protocol: str) -> str:
    """One line for captions, e.g. ``"dcase2020: AUC and pAUC per machine ID ..."``."""
    return f"{protocol}: {_RULE_TEXT[protocol_rule(protocol)]}"


def detect_protocol(clips) -> str:
    """The protocol a clip table or scores table calls for (see the module docstring).

    ``clips``: a ``DataFrame`` with any of the columns ``folder`` (the folder a clip was found in,
    as :func:`asdlab.data.build_clip_table` gives it), ``domain`` and ``file``. Returns a name of
    :data:`PROTOCOLS`; :data:`DEFAULT_PROTOCOL` when nothing points to 2020 or 2021.
    """
    columns = getattr(clips, "columns", ())
    if "folder" in columns and clips["folder"].isin(FOLDERS_2021).any():
        return "dcase2021"
    has_domains = "domain" in columns and clips["domain"].notna().any()
    if not has_domains and "file" in columns and clips["file"].astype(str).str.contains(_NAME_2020).any():
        return "dcase2020"
    return DEFAULT_PROTOCOL


def resolve_protocol(protocol: str | None, clips=None) -> str:
    """``protocol`` checked, or (``None`` / ``"auto"``) :func:`detect_protocol` of ``clips``
    (:data:`DEFAULT_PROTOCOL` without them)."""
    if protocol in (None, AUTO):
        return DEFAULT_PROTOCOL if clips is None else detect_protocol(clips)
    return check_protocol(protocol)
