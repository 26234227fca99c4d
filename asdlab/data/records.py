"""The official DCASE Task 2 archives on Zenodo (2020-2026) and the organisers' evaluation
ground truth: one table, read by :mod:`asdlab.data.download`.

Where each fact comes from (nothing here is inferred; what no reachable source gave is None):

* Zenodo record ids, file names and machine types: the organisers' baseline
  ``nttcslab/dcase2023_task2_baseline_ae`` (``datasets/download_path_{legacy,2023,2024,2025,2026}.yaml``,
  ``tools/data_download_20XX.sh``, ``data_download_2026{dev,add}.sh``), the same ids as ASDKit's
  ``jobs/download/base/dcase20XX.sh`` (``TakuyaFujimura/dcase-asd-toolkit``). 2026 has no evaluation
  test archive in them, so none here.
* md5 checksums: 2020 from soundata's ``dcase2020task2`` loader, 2023 from soundata's
  ``dcase23_task2`` loader (``soundata/soundata``, ``REMOTES``; both copy the md5 Zenodo publishes
  per file). 2021, 2022, 2024, 2025 and 2026: no published checksum was reachable when the table
  was written, so ``md5=None``: the downloader says so and records the sha256 it computes next to
  the archive, and every later download is checked against that.
* Sizes: only ``dcase2020`` ``dev_data_fan.zip`` (1,354,774,772 bytes, an HTTP HEAD check
  recorded in a public survey of machine-sound datasets); the others are None (shown as unknown
  by ``asdlab download --list``). Sizes are shown, never used to reject a file: the checksum does.
* Layout inside the archives: the baseline and ASDKit unzip every archive inside
  ``<dataset>/{dev_data,eval_data}/raw/``, so each holds ``<machine>/...`` (train/, test/, and from
  2025 supplemental/, attributes_*.csv); the 2021 archives hold ``source_test/`` and
  ``target_test/`` instead of ``test/``, kept as they are (:mod:`asdlab.data` reads them, and they
  mark the 2021 protocol).
* Evaluation ground truth (:data:`GROUND_TRUTH`, files pinned to a commit, sha256 computed from
  that commit): 2021 ``y-kawagu/dcase2021_task2_evaluator``, 2022 ``Kota-Dohi/dcase2022_evaluator``,
  2023 and 2024 ``nttcslab/dcase202{3,4}_task2_evaluator`` (``ground_truth_data/``,
  ``ground_truth_domain/``); 2020 and 2025 the baseline's ``datasets/eval_data_list_{2020,2025}.csv``
  (anonymised name -> labelled name; ASDKit's ``data/check_and_update.py`` found the 2020 list equal
  to Zenodo record 3951620's ``eval_data_list.csv``; the 2022 list is not used because ASDKit found
  608 wrong labels in it, the 2022 evaluator's files are).
"""

from __future__ import annotations

from dataclasses import dataclass

ZENODO = "https://zenodo.org/records"
GITHUB_RAW = "https://raw.githubusercontent.com"
SPLITS = ("dev", "train-add", "eval")
"""``dev``: development set (train + labelled test); ``train-add``: the additional training set
(normal train clips of the evaluation machine types); ``eval``: the evaluation test clips."""


@dataclass(frozen=True)
class Archive:
    """One zip file of a Zenodo record. ``size`` in bytes, ``md5`` as Zenodo publishes it (hex)."""

    dataset: str
    split: str
    machine: str
    file: str
    record: int
    md5: str | None = None
    size: int | None = None

    @property
    def url(self) -> str:
        return f"{ZENODO}/{self.record}/files/{self.file}?download=1"

    @property
    def folder(self) -> str:
        """``dev_data`` or ``eval_data``: where its clips go under the dataset folder."""
        return "dev_data" if self.split == "dev" else "eval_data"


@dataclass(frozen=True)
class GroundTruthSource:
    """The organisers' evaluation ground truth of one year: files of ``repo`` at ``commit``.

    ``style``: ``evaluator`` (``ground_truth_{data,domain}/ground_truth_<machine>_section_<SS>_test.csv``,
    or 2021's ``ground_truth_data/..._section_<SS>_{source,target}_test.csv``, used as they are) or
    ``eval_data_list`` (the baseline's ``eval_data_list_<year>.csv``: a machine-type line, then
    ``anonymised,labelled[,0|1]`` rows).
    """

    dataset: str
    repo: str
    commit: str
    style: str
    files: tuple[tuple[str, str], ...]  # (path in the repository, sha256)

    def url(self, path: str) -> str:
        return f"{GITHUB_RAW}/{self.repo}/{self.commit}/{path}"


def _record(dataset: str, split: str, record: int, pattern: str, machines: tuple[str, ...],
            files: dict[str, str] | None = None) -> list[Archive]:
    """Archives of one record: file ``pattern.format(m=machine)`` unless ``files`` names it."""
    names = {m: (files or {}).get(m) or pattern.format(m=m) for m in machines}
    return [Archive(dataset, split, m, names[m], record, _MD5.get((record, names[m])),
                    _SIZE.get((record, names[m]))) for m in machines]


_M2020 = ("ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve")
_M2021 = ("ToyCar", "ToyTrain", "fan", "gearbox", "pump", "slider", "valve")
_M2022 = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")
_EVAL2023 = ("ToyDrone", "ToyNscale", "ToyTank", "Vacuum", "bandsaw", "grinder", "shaker")
_EVAL2024 = ("3DPrinter", "AirCompressor", "BrushlessMotor", "HairDryer", "HoveringDrone",
             "RoboticArm", "Scanner", "ToothBrush", "ToyCircuit")
_EVAL2025 = ("AutoTrash", "BandSealer", "CoffeeGrinder", "HomeCamera", "Polisher", "ScrewFeeder",
             "ToyPet", "ToyRCCar")
_DEV2026 = ("ToyCar", "ToyCarEmu", "bearingEmu", "fan", "gearboxEmu", "sliderEmu", "valveEmu")
_EVAL2026 = ("BlowerDustCollector", "Sander", "SewingMachine", "ToothBrush", "ToyDrone")

_MD5 = {  # (record, file): md5 -- soundata loaders dcase2020task2 (2020) and dcase23_task2 (2023)
    (3678171, "dev_data_ToyCar.zip"): "4dec75ca8d9f666aa9e4c1894a740501",
    (3678171, "dev_data_ToyConveyor.zip"): "03b6aa1bfd09a39d53af0ba39f71fa91",
    (3678171, "dev_data_fan.zip"): "649bdfc06263ae7a838963f43b6641e6",
    (3678171, "dev_data_pump.zip"): "90e7091ef722b7238a7f1009365779cd",
    (3678171, "dev_data_slider.zip"): "da24a757719f0d94d5aa2d646bbfdc86",
    (3678171, "dev_data_valve.zip"): "34d2672f55bb041589ef79c10dc89934",
    (3727685, "eval_data_train_ToyCar.zip"): "a5d4ccd498af70b04dd74b644b820006",
    (3727685, "eval_data_train_ToyConveyor.zip"): "0e808ac0b761e9fb13d5e0c65caff00d",
    (3727685, "eval_data_train_fan.zip"): "567798854130c8019df8b664c095ed1e",
    (3727685, "eval_data_train_pump.zip"): "4e33ae9c0db5cc88437675f5e317caee",
    (3727685, "eval_data_train_slider.zip"): "f84f186f4295fc23754abcdd1b0580a7",
    (3727685, "eval_data_train_valve.zip"): "057cdd560caffb8305449541afd28c6d",
    (3841772, "eval_data_test_ToyCar.zip"): "bea2bdd612f616be8f2b8eb087b32c7c",
    (3841772, "eval_data_test_ToyConveyor.zip"): "ccfcc9847c7d3404d7ee9d6d9e0b2ba2",
    (3841772, "eval_data_test_fan.zip"): "1eb9356a768cadfd0f2e59a5c57e578b",
    (3841772, "eval_data_test_pump.zip"): "23a8f8f924be218c69df67fe07360348",
    (3841772, "eval_data_test_slider.zip"): "0193c769073840332ce3aad84b1ccaa2",
    (3841772, "eval_data_test_valve.zip"): "f69c551d2088691050d20cccca9d631c",
    (7882613, "dev_ToyCar.zip"): "4e3bf15f4101ed4ed4f1fecde2e2b2a3",
    (7882613, "dev_ToyTrain.zip"): "6b02a6c65eebb3b8b1ae59a6b25bb897",
    (7882613, "dev_bearing.zip"): "8a813bc8d8f156b5395bfccdfac7673c",
    (7882613, "dev_fan.zip"): "9348591e96fb0ad499a1e33b082562fc",
    (7882613, "dev_gearbox.zip"): "b6e55f6a31faa0fc8569ec0afdd53ccf",
    (7882613, "dev_slider.zip"): "b3f8dee36b4718c36d659a4fd1c4afe0",
    (7882613, "dev_valve.zip"): "b2051a2022eadb53cd97581120811cae",
    (7830345, "eval_data_ToyDrone_train.zip"): "7fea367d1384a1521ae24f72203238de",
    (7830345, "eval_data_ToyNscale_train.zip"): "9332822f3e47afd984c01f2ecb5ca3af",
    (7830345, "eval_data_ToyTank_train.zip"): "b1fd3ab7de7561290df2d477de1c9d33",
    (7830345, "eval_data_Vacuum_train.zip"): "1c8de33d9a8c7850a1f7aaddb97d87be",
    (7830345, "eval_data_bandsaw_train.zip"): "9274dfe63de028743823f1123f8b4b47",
    (7830345, "eval_data_grinder_train.zip"): "17569c1f9df23621a0dbabc430684a35",
    (7830345, "eval_data_shaker_train.zip"): "35f821b5645b731fb5a1750e33b95fc3",
    (7860847, "eval_data_ToyDrone_test.zip"): "fdae7b8d1f4cadb2bea88bc93e2367db",
    (7860847, "eval_data_ToyNscale_test.zip"): "62f5f5043d8fb3a305b1c2e1025872de",
    (7860847, "eval_data_ToyTank_test.zip"): "f5639bf58c47169c622751f19c6fc321",
    (7860847, "eval_data_Vacuum_test.zip"): "a32524fd8c45b574a560685b38acc4e1",
    (7860847, "eval_data_bandsaw_test.zip"): "2a8e8f39f6584ab366a8f4da52d4d7a6",
    (7860847, "eval_data_grinder_test.zip"): "631b3e1608b6077772829a6e68c82c77",
    (7860847, "eval_data_shaker_test.zip"): "ba98c98caa96051ec80e24e44b8fca56",
}
_SIZE = {(3678171, "dev_data_fan.zip"): 1_354_774_772}

ARCHIVES: tuple[Archive, ...] = tuple(
    _record("dcase2020", "dev", 3678171, "dev_data_{m}.zip", _M2020)
    + _record("dcase2020", "train-add", 3727685, "eval_data_train_{m}.zip", _M2020)
    + _record("dcase2020", "eval", 3841772, "eval_data_test_{m}.zip", _M2020)
    + _record("dcase2021", "dev", 4562016, "dev_data_{m}.zip", _M2021)
    + _record("dcase2021", "train-add", 4660992, "eval_data_{m}_train.zip", _M2021)
    + _record("dcase2021", "eval", 4884786, "eval_data_{m}_test.zip", _M2021)
    + _record("dcase2022", "dev", 6355122, "dev_{m}.zip", _M2022)
    + _record("dcase2022", "train-add", 6462969, "eval_data_{m}_train.zip", _M2022)
    + _record("dcase2022", "eval", 6586456, "eval_data_{m}_test.zip", _M2022)
    + _record("dcase2023", "dev", 7882613, "dev_{m}.zip", _M2022)
    + _record("dcase2023", "train-add", 7830345, "eval_data_{m}_train.zip", _EVAL2023)
    + _record("dcase2023", "eval", 7860847, "eval_data_{m}_test.zip", _EVAL2023)
    + _record("dcase2024", "dev", 10902294, "dev_{m}.zip", _M2022)
    + _record("dcase2024", "train-add", 11259435, "eval_data_{m}_train.zip", _EVAL2024,
              {"3DPrinter": "eval_data_3DPrinter_train_r2.zip",
               "RoboticArm": "eval_data_RoboticArm_train_r2.zip"})
    + _record("dcase2024", "eval", 11363076, "eval_data_{m}_test.zip", _EVAL2024)
    + _record("dcase2025", "dev", 15097779, "dev_{m}.zip", _M2022)
    + _record("dcase2025", "train-add", 15392814, "eval_data_{m}_train.zip", _EVAL2025)
    + _record("dcase2025", "eval", 15519362, "eval_data_{m}_test.zip", _EVAL2025)
    + _record("dcase2026", "dev", 19336329, "dev_{m}.zip", _DEV2026, {"ToyCar": "dev_ToyCar_r2.zip"})
    + _record("dcase2026", "train-add", 20151556, "eval_data_{m}_train.zip", _EVAL2026)
)
"""Every known archive, by dataset, split, machine type."""

DATASETS: tuple[str, ...] = tuple(dict.fromkeys(a.dataset for a in ARCHIVES))

GROUND_TRUTH: tuple[GroundTruthSource, ...] = (
    GroundTruthSource("dcase2020", "nttcslab/dcase2023_task2_baseline_ae", "9b64dc42276a64f65b7cbf2761d3c9ec525cff94", "eval_data_list", (
        ("datasets/eval_data_list_2020.csv", "a179d4dde7993a2971044cf5ee00abb306c5016becce372c625e79845673b3bb"),
    )),
    GroundTruthSource("dcase2021", "y-kawagu/dcase2021_task2_evaluator", "178746837e5ffe46f8c8bfc6498e7d538b25bc41", "evaluator", (
        ("ground_truth_data/ground_truth_ToyCar_section_03_source_test.csv", "161c9e70403ac35ff792cab13c056a83afb639e92518972f64d1dbe5bb653d8f"),
        ("ground_truth_data/ground_truth_ToyCar_section_03_target_test.csv", "3ab180eec1d8bc0c0185aebeb928c09bc1b7e7cb73ba9913ed0ca10995f8d232"),
        ("ground_truth_data/ground_truth_ToyCar_section_04_source_test.csv", "bc2ed47ad212aef4ac4664a0c86573859fa2dca39f256f01ddca03311181becf"),
        ("ground_truth_data/ground_truth_ToyCar_section_04_target_test.csv", "c4000f6f0cb4129f75e82950ef5653caddca1e915e4d385114d9fe88db434af6"),
        ("ground_truth_data/ground_truth_ToyCar_section_05_source_test.csv", "b9b67905749b9509ebf1d1e02bd82979baadff7c268fb60a7b0a04cee752313f"),
        ("ground_truth_data/ground_truth_ToyCar_section_05_target_test.csv", "78d3225dd3cdd936672fbb14c203358cf50231e85f3530cf956bafc36dd04b87"),
        ("ground_truth_data/ground_truth_ToyTrain_section_03_source_test.csv", "9d81cc48c6ef09ccae1bdd5d8fe946184e880ea50230a3ccaef5d905bb8dd936"),
        ("ground_truth_data/ground_truth_ToyTrain_section_03_target_test.csv", "01f563826e605f86cc16720338570f249905066971c06cc8495f7e8751cbc6b9"),
        ("ground_truth_data/ground_truth_ToyTrain_section_04_source_test.csv", "58f51689c0870be583e9b30b4f98dbdacb26fcbe3b506217de6e7ab4d4c87f4f"),
        ("ground_truth_data/ground_truth_ToyTrain_section_04_target_test.csv", "0e0915393d19679af37767a4a00da56d840bd69fe915f25a3773027032ae4cd1"),
        ("ground_truth_data/ground_truth_ToyTrain_section_05_source_test.csv", "896f96f63a430a7799d55ca73692cf310661451960d6b1e148ce49486e556514"),
        ("ground_truth_data/ground_truth_ToyTrain_section_05_target_test.csv", "c37f0daf680bfb886d2ca96b32d1e441dfe9d80663a0b40edc7213177e26787e"),
        ("ground_truth_data/ground_truth_fan_section_03_source_test.csv", "8646951556f70edb0bea8fe40f13786e76cb62f7ac7d440e0e49223e548b66d7"),
        ("ground_truth_data/ground_truth_fan_section_03_target_test.csv", "cee7fb1c44f5f48eb80b9a4fdb39abcfd1de53a40f26a20b03bfe1fd4b2aad43"),
        ("ground_truth_data/ground_truth_fan_section_04_source_test.csv", "57de6c7e1fe0e2aed9583b17b8a8a217c6930c4936e6712a519a0337007adedb"),
        ("ground_truth_data/ground_truth_fan_section_04_target_test.csv", "b080b3709e84f609467b977d23afc6a788d20d80092e62aa14aa55e576c6537e"),
        ("ground_truth_data/ground_truth_fan_section_05_source_test.csv", "0d156b6c286d950bc681e3242a2a4330ee98b972a45670b678f5e67c540f390a"),
        ("ground_truth_data/ground_truth_fan_section_05_target_test.csv", "4502eb713c18e45dfb91756e1384b69ae0062c9c67ef76c7b6e3edc4118189c2"),
        ("ground_truth_data/ground_truth_gearbox_section_03_source_test.csv", "7c3fed8d5e9fd2b78813e256dfa9907388afe8fa2d91859f0120202d51c7e310"),
        ("ground_truth_data/ground_truth_gearbox_section_03_target_test.csv", "6b2442ead5be8e2a5ff88f24360c39f1a9916dbb15d1f13c7ca3891f854c301d"),
        ("ground_truth_data/ground_truth_gearbox_section_04_source_test.csv", "59fe760b5873134593fdd86c14d95c2a0257a6416a08a6610524b9341c508978"),
        ("ground_truth_data/ground_truth_gearbox_section_04_target_test.csv", "d9fc62455c2b623dc45c609344112f2b4725907ac1b9de1299b3876c23c0b333"),
        ("ground_truth_data/ground_truth_gearbox_section_05_source_test.csv", "ae8726ead29123502e50b759b94ce5cb5136c30997a4102a1ecacc60739e18d9"),
        ("ground_truth_data/ground_truth_gearbox_section_05_target_test.csv", "0b53a43fae56d7001e244330048d6b4dd968cc325563aa3d2f33092b3749c285"),
        ("ground_truth_data/ground_truth_pump_section_03_source_test.csv", "1a0a9fed066c126149a0a28c804977c587121900cc55bdf7d0fabef918433ec1"),
        ("ground_truth_data/ground_truth_pump_section_03_target_test.csv", "023a43f09f7317c39045ccf42b910e91e49d44847b8c74258c433c6fc1bf71af"),
        ("ground_truth_data/ground_truth_pump_section_04_source_test.csv", "c0feb9ba60d4e9a5c85d00c683d1db52a20dc3ed83a5ba6921042e9b89e35a35"),
        ("ground_truth_data/ground_truth_pump_section_04_target_test.csv", "950d38c7717eb0cdab02b69c3e982b77fa97a5bc8d0a5af773b78dce8cb3b598"),
        ("ground_truth_data/ground_truth_pump_section_05_source_test.csv", "1c6848fbcadc896bddb662b2dd22edddb5971f68b70b6b563c7a069e95d5b161"),
        ("ground_truth_data/ground_truth_pump_section_05_target_test.csv", "d9d5d3f41e53026367f9682468382a2034a90da0ab9fe10d7236eff08ef12f08"),
        ("ground_truth_data/ground_truth_slider_section_03_source_test.csv", "7d3171115ed846dc465dd26388d813b405b046635dd7dd8202dbcdb9bbf246b0"),
        ("ground_truth_data/ground_truth_slider_section_03_target_test.csv", "48f0c89d94f7cc1f3e879a0442f52dc8eec1726a6a1de7a351a8fc0f30665478"),
        ("ground_truth_data/ground_truth_slider_section_04_source_test.csv", "0f843531ca72022fa7ca49c1320aa80817e668ab60b49a10c537baa09c32d4d1"),
        ("ground_truth_data/ground_truth_slider_section_04_target_test.csv", "2f134b62be05e35af821aa58daa7f3a724f84f00c0b16e5a2bcec85a9818a213"),
        ("ground_truth_data/ground_truth_slider_section_05_source_test.csv", "b580d3e44dcec83605fb17bcca12a2d3ccde9a72e5de2f720e48f22773aa00ec"),
        ("ground_truth_data/ground_truth_slider_section_05_target_test.csv", "7eb8e072f505f1f635d9e5d7b2e54363785b645dfebcc50b7d1864d33cc0c73d"),
        ("ground_truth_data/ground_truth_valve_section_03_source_test.csv", "005d59b8c046a0381b6931ab6c4f555a6032e9285e66751e01561390321fa647"),
        ("ground_truth_data/ground_truth_valve_section_03_target_test.csv", "ef1ace687fd8bb7e6af7ef98bae42790fdf08d8a29f3f14ff14aa0ba3736e98d"),
        ("ground_truth_data/ground_truth_valve_section_04_source_test.csv", "7f9c7c0c3b69852aead094aef9b7cfdc13502ff2967fbe1fadc4ce757de2cbe1"),
        ("ground_truth_data/ground_truth_valve_section_04_target_test.csv", "450676d81144c25727c88777d991585f802b0d1b36d209bd0a6e567ddebf76b2"),
        ("ground_truth_data/ground_truth_valve_section_05_source_test.csv", "396a015c7fb4525aac709ed6d78940a457512d6a2a1979730ddea5d11542fe85"),
        ("ground_truth_data/ground_truth_valve_section_05_target_test.csv", "00a672df76ab05f65ace37bffe693477630565a2a02e8e2bd0b9644eb004c29c"),
    )),
    GroundTruthSource("dcase2022", "Kota-Dohi/dcase2022_evaluator", "de8719b7d35280ff3a39487c9d1003413eef7818", "evaluator", (
        ("ground_truth_data/ground_truth_ToyCar_section_03_test.csv", "59bd4ea1562eb85ebe0205b778079287f9feddba5d36f48cb30b1984288ece4a"),
        ("ground_truth_data/ground_truth_ToyCar_section_04_test.csv", "6a984899b5a1c5a1fedadda0461f0fdd996bdc40d89626530ad48705c18f5178"),
        ("ground_truth_data/ground_truth_ToyCar_section_05_test.csv", "b1e17081f34edce380136f258957ad404d53c41ece730342cbf8d4fa2a9c5f80"),
        ("ground_truth_data/ground_truth_ToyTrain_section_03_test.csv", "a6a58449a584079b07692f07c407d3354326c28309e4d53076ff0d94ef09149c"),
        ("ground_truth_data/ground_truth_ToyTrain_section_04_test.csv", "6965b841abd870493415907f1610d41aee4e12e379c88e846ae50c0338a0e8e8"),
        ("ground_truth_data/ground_truth_ToyTrain_section_05_test.csv", "314b27fb9e1c206c1db32b62f34b1d4d4806b66c5129b75a52f122ca6db14500"),
        ("ground_truth_data/ground_truth_bearing_section_03_test.csv", "b6dec5e167fab7ccb54aa51ea385f98b9dfb580ed57eb8957cf60b2858c671ac"),
        ("ground_truth_data/ground_truth_bearing_section_04_test.csv", "164374454fe49ab6e3d4997722cf5d121ec6c5ec9396c341b43b22b5b46f4236"),
        ("ground_truth_data/ground_truth_bearing_section_05_test.csv", "0aa0b809ddff372df248e39d551a70a92601a7c353fb71ad8e4fce401618b5c6"),
        ("ground_truth_data/ground_truth_fan_section_03_test.csv", "64e8ff7ab15a4588d4558552bdfe3c719527101c5c8f31525c7055504d7fff39"),
        ("ground_truth_data/ground_truth_fan_section_04_test.csv", "bd689ef9e75bad243a26e66fad28872e0d72453dca4c2ffd9830312bfee2ca3f"),
        ("ground_truth_data/ground_truth_fan_section_05_test.csv", "233177bffaf8d4ea4660952ab8611cc6184bbb297b1bd21d8bda2e2efa5a6a91"),
        ("ground_truth_data/ground_truth_gearbox_section_03_test.csv", "4674414f0d381dcd3fb6cbdfc94335e2115e7bc1946428a3b24274ec848138b4"),
        ("ground_truth_data/ground_truth_gearbox_section_04_test.csv", "d28176799bc23a585651644aed118fe5857f1787a23b9dc1b2992ce4db8cfb57"),
        ("ground_truth_data/ground_truth_gearbox_section_05_test.csv", "f7a16c48531798e4be1b072e4ef5a7cd310e6299749ea46c783874934df56afd"),
        ("ground_truth_data/ground_truth_slider_section_03_test.csv", "5aa2da02f48b26df9606337f4aeab8394d75532eabe3b3f88b39aebf07b5cf2e"),
        ("ground_truth_data/ground_truth_slider_section_04_test.csv", "7573cdcad99e750d0ff4de09ccae534133a2ecec34efd3fa8d64f7ee225a9319"),
        ("ground_truth_data/ground_truth_slider_section_05_test.csv", "70132def1a58a4073bd7cc319dedd77c7df7d068b16b60b024ec78ed5e57cfff"),
        ("ground_truth_data/ground_truth_valve_section_03_test.csv", "ae70a71002c60100d3d924abb419b4c8de3e1af7d3e881f3fdc814228e244c1b"),
        ("ground_truth_data/ground_truth_valve_section_04_test.csv", "87959011e4c9ff8b4fc01c41a95355b225b7477cce52cae8f3ec36972d4b7383"),
        ("ground_truth_data/ground_truth_valve_section_05_test.csv", "32d9b7b07a092d520a87f7a0c4e5fc0c37d6cfc6f5c97342c882042dff3b0842"),
        ("ground_truth_domain/ground_truth_ToyCar_section_03_test.csv", "009fed3e33db85e100ffbcd6338ea2e56b71bb7dafed6af5e2075b022fbc0c62"),
        ("ground_truth_domain/ground_truth_ToyCar_section_04_test.csv", "154982ce91c42bc4886112bbeb6447a47c732b2cad904e4aa093b48287036440"),
        ("ground_truth_domain/ground_truth_ToyCar_section_05_test.csv", "80cfeafbf5ce3b8e72b0ebf7473999c03086c0ee4d2a9c0c398660eeb568cb27"),
        ("ground_truth_domain/ground_truth_ToyTrain_section_03_test.csv", "7bded0cacfc4a80ed58e711cc565b195ab6abe09446d6b1f2bdea1670085d520"),
        ("ground_truth_domain/ground_truth_ToyTrain_section_04_test.csv", "1774d9026e5d97e99aa0b1880c60f421389c44677eee026edc780157fc69f49a"),
        ("ground_truth_domain/ground_truth_ToyTrain_section_05_test.csv", "88c7c9ddc2c5474c1dfc7049af81c090f332e55066d10a244dda4c6c20104f28"),
        ("ground_truth_domain/ground_truth_bearing_section_03_test.csv", "d37a9e2b9e894531668bf6da39ee64f87ee8bd15cce343365f9a96e6c3e63242"),
        ("ground_truth_domain/ground_truth_bearing_section_04_test.csv", "ad6d187d01b2fbceb9d9d97a9deb1acfd0bd1dcaf2d0472a44ed52e5693a5864"),
        ("ground_truth_domain/ground_truth_bearing_section_05_test.csv", "2e62d8e71235c81669a824026c735b08dd11ee677a68e0b44c0d2f0acfd26fca"),
        ("ground_truth_domain/ground_truth_fan_section_03_test.csv", "9b652395478981a0c51d7d7dce669d36cc8509d6a953c04dd336e2adb67a891a"),
        ("ground_truth_domain/ground_truth_fan_section_04_test.csv", "0f570afc56d196fbbda04b90583e91fd762be2edb87d66b13a683954054da398"),
        ("ground_truth_domain/ground_truth_fan_section_05_test.csv", "8079cf6fc7e34bacf4cfcf0d5a371a849b49cea0f2b3e43a32cdd4762cd2417b"),
        ("ground_truth_domain/ground_truth_gearbox_section_03_test.csv", "cf7817b3689666ab304d1678024efbe0458bb5e056d9b4151a60f0891b784683"),
        ("ground_truth_domain/ground_truth_gearbox_section_04_test.csv", "c03b618884db6a26d7900422d15c36abbdeecbdbc60bfd59ab6a0b05210b30b2"),
        ("ground_truth_domain/ground_truth_gearbox_section_05_test.csv", "e3f40226b7702f286bc4b2b228f83bba264e44727e4701aff966a420352ade5f"),
        ("ground_truth_domain/ground_truth_slider_section_03_test.csv", "e599e84bcb1f73517fbc80351734371b09ebb98b8360c40339aede998bf0d452"),
        ("ground_truth_domain/ground_truth_slider_section_04_test.csv", "310ca571b4f2669cc1efc01727075db810caf6342be2c57ca2bea4d44dfe5275"),
        ("ground_truth_domain/ground_truth_slider_section_05_test.csv", "20185544c5b463a9f585cc498736ef83ed4689da9b69663f0c9652cf0c3bdd04"),
        ("ground_truth_domain/ground_truth_valve_section_03_test.csv", "2e5515d3c6f1d891dce90dedb66d373dc6fe0f56e401c8a635a47d70922e2d2e"),
        ("ground_truth_domain/ground_truth_valve_section_04_test.csv", "5941873b4cc7195d3de8831d4b87a5cb750c9f03cdbde22c1947cc3d1e0430f9"),
        ("ground_truth_domain/ground_truth_valve_section_05_test.csv", "2983731909fa4035407451d5ef80842e3e10d0aa405f061d23d2d79c3062a54d"),
    )),
    GroundTruthSource("dcase2023", "nttcslab/dcase2023_task2_evaluator", "3aa8a9fe09a9a55d9dccb74fd4f17ba9791fb5ea", "evaluator", (
        ("ground_truth_data/ground_truth_ToyDrone_section_00_test.csv", "b2b43a4a4278b87591a310f88e873f406ee1c343a638c0946eb5efef9db4f0d6"),
        ("ground_truth_data/ground_truth_ToyNscale_section_00_test.csv", "962a69bf714e7eaf2b7c27ac2315ff2a7a53f024afce110f49f120b0eaa3448c"),
        ("ground_truth_data/ground_truth_ToyTank_section_00_test.csv", "8123ca69f7d821ba843fbb541278f8a1e6ee7fe887bfa80a9ee5fb5818eac0eb"),
        ("ground_truth_data/ground_truth_Vacuum_section_00_test.csv", "39bc8108bc4ea16c6d74c4dc6b7739d129ea84e43aae8c5a37ee1c24e1c7a235"),
        ("ground_truth_data/ground_truth_bandsaw_section_00_test.csv", "618fbc0721dd826a61a735c41e59eb41c53149d455ddea0b423beb00add3d22c"),
        ("ground_truth_data/ground_truth_grinder_section_00_test.csv", "aa5141bd4966fc2bb9c642996da8a7e8f90afdd26cb8bd4ec97a409faf4b2997"),
        ("ground_truth_data/ground_truth_shaker_section_00_test.csv", "c6eb67bfcefa07eb9d7d76aad26a63e3e08c4e9272486b1c808bc72c939b7d0a"),
        ("ground_truth_domain/ground_truth_ToyDrone_section_00_test.csv", "fda04eebe6c47300d141262dcb7a195cfaaf1f0d8f30ac5879586486547bb411"),
        ("ground_truth_domain/ground_truth_ToyNscale_section_00_test.csv", "3a71c8310106c2288e9245d700b15576f1cba804442eb742d7f5016ffe301eb8"),
        ("ground_truth_domain/ground_truth_ToyTank_section_00_test.csv", "af5e8988d8e9c3d074348dc124a373ad3691d303c646ea06c057b22100ffb84c"),
        ("ground_truth_domain/ground_truth_Vacuum_section_00_test.csv", "e24313630da00d3b7dbbab1ad4c131147433bc3296cad1fe3c5a89de29e99e31"),
        ("ground_truth_domain/ground_truth_bandsaw_section_00_test.csv", "101ce2837cc59b662d4de5f11c6af7a85ad625a533117d961003f11741f17565"),
        ("ground_truth_domain/ground_truth_grinder_section_00_test.csv", "92919b9891189d54863522fb63aca76423fbd617bb39ebc6b855daee29890371"),
        ("ground_truth_domain/ground_truth_shaker_section_00_test.csv", "ce355c1ef38577674441b355a3702d27416216920f426439c16edb96403ee6f6"),
    )),
    GroundTruthSource("dcase2024", "nttcslab/dcase2024_task2_evaluator", "b5d17f63769bf4372a5412a7ede1f814c9590047", "evaluator", (
        ("ground_truth_data/ground_truth_3DPrinter_section_00_test.csv", "06df00935b9787cdb1b26d51a643f3ff479128b3f5056bb077ca5542e39c63a9"),
        ("ground_truth_data/ground_truth_AirCompressor_section_00_test.csv", "b9d04e182bad44585ae8ddf5c3e0a59a4a5da5c632eb5e5e930b4b408276d9a6"),
        ("ground_truth_data/ground_truth_BrushlessMotor_section_00_test.csv", "f4a5e6859029e12054a1ca06d0c4c709d3243b2279e00c428b3caeae6edf72d7"),
        ("ground_truth_data/ground_truth_HairDryer_section_00_test.csv", "b2b43a4a4278b87591a310f88e873f406ee1c343a638c0946eb5efef9db4f0d6"),
        ("ground_truth_data/ground_truth_HoveringDrone_section_00_test.csv", "962a69bf714e7eaf2b7c27ac2315ff2a7a53f024afce110f49f120b0eaa3448c"),
        ("ground_truth_data/ground_truth_RoboticArm_section_00_test.csv", "f625dd360ece9b3d16976590b232799236d5a15e109bfa8648b714ce4dfc87e3"),
        ("ground_truth_data/ground_truth_Scanner_section_00_test.csv", "403aa870c8bf2b91d1eaa43a21f051ce154073fa6f82e7b16683cf93a96ccf80"),
        ("ground_truth_data/ground_truth_ToothBrush_section_00_test.csv", "8123ca69f7d821ba843fbb541278f8a1e6ee7fe887bfa80a9ee5fb5818eac0eb"),
        ("ground_truth_data/ground_truth_ToyCircuit_section_00_test.csv", "39bc8108bc4ea16c6d74c4dc6b7739d129ea84e43aae8c5a37ee1c24e1c7a235"),
        ("ground_truth_domain/ground_truth_3DPrinter_section_00_test.csv", "d7ecba5fd02fe7b9c9c4ea6cdd83ef7655c082f9749fe71eeed0c3ac8b779844"),
        ("ground_truth_domain/ground_truth_AirCompressor_section_00_test.csv", "36c3e1a31ff60ec1c6807bd11dbc75b1e1a5f8e04e26a268b39c837b70ed0307"),
        ("ground_truth_domain/ground_truth_BrushlessMotor_section_00_test.csv", "b0aec9b5725ca2fd17e9ef545e80845da4d7560a33815cbbbac33a1cca1d3aac"),
        ("ground_truth_domain/ground_truth_HairDryer_section_00_test.csv", "fda04eebe6c47300d141262dcb7a195cfaaf1f0d8f30ac5879586486547bb411"),
        ("ground_truth_domain/ground_truth_HoveringDrone_section_00_test.csv", "3a71c8310106c2288e9245d700b15576f1cba804442eb742d7f5016ffe301eb8"),
        ("ground_truth_domain/ground_truth_RoboticArm_section_00_test.csv", "461e4089b8b70b88b3adfcd7c70510e3d10d354c867d632fe8ea840b3dbc7214"),
        ("ground_truth_domain/ground_truth_Scanner_section_00_test.csv", "456920c2df050fcbd0afd977c38fd385adf90b978a5ea148cc0f840325cd24b6"),
        ("ground_truth_domain/ground_truth_ToothBrush_section_00_test.csv", "af5e8988d8e9c3d074348dc124a373ad3691d303c646ea06c057b22100ffb84c"),
        ("ground_truth_domain/ground_truth_ToyCircuit_section_00_test.csv", "e24313630da00d3b7dbbab1ad4c131147433bc3296cad1fe3c5a89de29e99e31"),
    )),
    GroundTruthSource("dcase2025", "nttcslab/dcase2023_task2_baseline_ae", "9b64dc42276a64f65b7cbf2761d3c9ec525cff94", "eval_data_list", (
        ("datasets/eval_data_list_2025.csv", "013aa59905d9b2c4bac64d88a7fd6166fa6458f0ffea408b57a761ef886cf265"),
    )),
)
"""Evaluation ground truth per dataset (none known for dcase2026)."""
