"""The report reader's contract, one error category at a time, in French and English.

Each category is a kind of sentence that real reports contain and that a reader
gets wrong when it matches words instead of reading statements: lists whose
negation crosses a comma, conditional and recommendation sentences, modal
disclaimers, hedges, device "fractures", masses and plurals, generic normal
statements beside a specific finding, benign and old findings (a device's
policy), nodules of other organs, and sections that never decide. The texts are
written for these tests (synthetic); the measurements on real corpora are in
``benchmarks/report_text.py``.
"""

from __future__ import annotations

import pytest

from connectors.report_text import ReadingPolicy, extract_outcome


def read(text: str, target: str, policy: ReadingPolicy | None = None) -> str | None:
    return extract_outcome(text, target, policy=policy).outcome


def state(text: str, target: str) -> str:
    return extract_outcome(text, target).state


# --------------------------------------------------- negation across a list


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("No acute, displaced rib fractures.", "fracture"),
        ("No acute, displaced fracture or dislocation of the wrist.", "fracture"),
        (
            "No focal consolidation, pleural effusion, or suspicious pulmonary nodule.",
            "lung_nodule",
        ),
        ("Pas de fracture, de luxation ou de lésion osseuse.", "fracture"),
        ("Pas de fracture déplacée, ni de luxation.", "fracture"),
        ("Absence de condensation, d'épanchement pleural ou de nodule suspect.", "lung_nodule"),
    ],
)
def test_a_negation_covers_its_list_across_commas(text: str, target: str) -> None:
    assert read(text, target) == "negative"


# ------------------------------------- conditional, hypothetical, recommendation


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("If there is concern for occult fracture, consider dedicated rib views.", "fracture"),
        ("Overlying soft tissues could obscure a small nodule.", "lung_nodule"),
        ("CT is recommended to identify a small nodule.", "lung_nodule"),
        ("Follow-up radiographs to rule out an occult scaphoid fracture.", "fracture"),
        ("En cas de doute sur une fracture, un scanner est conseillé.", "fracture"),
        ("Scanner thoracique à la recherche d'un nodule pulmonaire.", "lung_nodule"),
        ("Si la douleur persiste, contrôle radiographique pour éliminer une fracture.", "fracture"),
    ],
)
def test_conditional_and_recommendation_sentences_state_nothing(text: str, target: str) -> None:
    result = extract_outcome(text, target)
    assert (result.outcome, result.state) == (None, "unmentioned")
    assert result.evidence is not None and result.evidence.status == "hypothetical"


# ----------------------------------------------- modal disclaimers and hedges


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Nondisplaced rib fractures may not be demonstrated on radiographs.", "fracture"),
        ("Small nodules may be occult on a chest radiograph.", "lung_nodule"),
        ("Une fracture non déplacée peut passer inaperçue en radiographie.", "fracture"),
        ("Un petit nodule peut ne pas être visible en radiographie standard.", "lung_nodule"),
    ],
)
def test_a_modal_disclaimer_states_nothing(text: str, target: str) -> None:
    assert state(text, target) == "unmentioned"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Question of a small nodule at the right base.", "lung_nodule"),
        ("Possibility of a nondisplaced fracture of the radial head.", "fracture"),
        ("A fracture of the scaphoid is possible.", "fracture"),
        ("Suspect fracture of the fifth metatarsal.", "fracture"),
        ("The left apical nodule is not well seen on this study.", "lung_nodule"),
        ("Possibilité de fracture de la tête radiale.", "fracture"),
        ("Une fracture du scaphoïde est possible.", "fracture"),
        ("Aspect en faveur d'un nodule du lobe moyen, à confirmer.", "lung_nodule"),
    ],
)
def test_uncertainty_cues_make_it_indeterminate(text: str, target: str) -> None:
    assert read(text, target) == "indeterminate"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("The right lower lobe nodule is no longer seen.", "lung_nodule"),
        ("The previously described fracture line is no longer seen.", "fracture"),
        ("Le nodule du lobe inférieur droit n'est plus visible.", "lung_nodule"),
    ],
)
def test_no_longer_seen_is_negative(text: str, target: str) -> None:
    assert read(text, target) == "negative"


# -------------------------------------------------------- device "fractures"


@pytest.mark.parametrize(
    "text",
    [
        "Fractured sternotomy wire, otherwise unremarkable.",
        "Lead fracture of the pacemaker.",
        "Catheter fracture with a fragment in the right atrium.",
        "Fracture of a screw of the tibial plate.",
        "Fracture de la sonde de stimulation ventriculaire.",
        "Fracture d'un fil de cerclage sternal.",
        "Fracture du matériel d'ostéosynthèse.",
    ],
)
def test_a_device_fracture_is_not_a_bone_fracture(text: str) -> None:
    result = extract_outcome(text, "fracture")
    assert (result.outcome, result.state) == (None, "unmentioned")
    assert result.evidence is not None and result.evidence.status == "device"


def test_a_bone_fracture_beside_a_device_still_counts() -> None:
    text = "Pacemaker leads intact. Acute fracture of the left clavicle."
    assert read(text, "fracture") == "positive"


# ------------------------------------------------- masses, plurals, patterns


@pytest.mark.parametrize(
    "text",
    [
        "Small mass in the left lung.",
        "Masslike opacity in the right upper lobe.",
        "Rounded density in the left lower lobe.",
        "Nodular opacities in the right lower lobe.",
        "Ill-defined nodular densities at both bases are nodules.",
        "Masse pulmonaire spiculée du lobe supérieur gauche.",
        "Opacités nodulaires du lobe inférieur droit.",
    ],
)
def test_masses_and_plural_nodular_opacities_are_lung_nodules(text: str) -> None:
    assert read(text, "lung_nodule") in ("positive", "indeterminate")
    assert read(text.replace("Ill-defined ", ""), "lung_nodule") == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "Biapical fibronodular scarring.",
        "Diffuse reticulonodular interstitial pattern.",
        "Syndrome interstitiel réticulo-nodulaire bilatéral.",
    ],
)
def test_a_nodular_pattern_counts_as_the_device_policy_says(text: str) -> None:
    result = extract_outcome(text, "lung_nodule")
    assert result.outcome == "positive"
    assert result.evidence is not None and result.evidence.status == "pattern"
    ignoring = extract_outcome(text, "lung_nodule", policy=ReadingPolicy(nodular_pattern="ignore"))
    assert (ignoring.outcome, ignoring.state) == ("negative", "decided")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Nodular density at the left base, likely a nipple shadow.", "lung_nodule"),
        ("Nodular opacity in the right midlung represents an artifact.", "lung_nodule"),
        ("Image nodulaire de la base gauche correspondant au mamelon.", "lung_nodule"),
        (
            "Lucent line over the radial neck, a Mach band artifact rather than a fracture.",
            "fracture",
        ),
        (
            "Image linéaire du radius correspondant à un canal nourricier, pas de fracture.",
            "fracture",
        ),
    ],
)
def test_a_mimic_is_not_the_finding(text: str, target: str) -> None:
    assert read(text, target, ReadingPolicy(benign="positive", historical="positive")) in (
        None,
        "negative",
    )


@pytest.mark.parametrize(
    "text",
    [
        "Calcified right hilar nodules consistent with chronic granulomatous disease.",
        "Nodule calcifié du lobe supérieur droit, séquelle granulomateuse.",
    ],
)
def test_a_nodule_described_as_benign_is_still_a_nodule(text: str) -> None:
    assert read(text, "lung_nodule") == "positive"


def test_an_age_indeterminate_fracture_is_a_fracture() -> None:
    assert read("An age-indeterminate compression fracture of T11.", "fracture") == "positive"


def test_a_device_word_far_from_the_fracture_or_behind_a_bone_does_not_make_it_a_device() -> None:
    assert read("Sternotomy wires and an acute fracture of the left sixth rib.", "fracture") == (
        "positive"
    )
    text = "The pacemaker is unchanged with fractured proximal lateral lead."
    assert extract_outcome(text, "fracture").state == "unmentioned"


# ------------------------------------------ specific finding over generic normal


@pytest.mark.parametrize(
    ("text", "target"),
    [
        (
            "FINDINGS: 6 mm nodule in the right upper lobe.\n"
            "IMPRESSION: No acute cardiopulmonary process.",
            "lung_nodule",
        ),
        (
            "Findings: nondisplaced fracture of the left fifth rib.\n"
            "Impression: No acute abnormality.",
            "fracture",
        ),
        (
            "Résultats : nodule solide de 6 mm du lobe inférieur droit.\n"
            "Conclusion : examen normal.",
            "lung_nodule",
        ),
        (
            "Résultat : fracture non déplacée de la styloïde radiale.\n"
            "Conclusion : radiographie normale.",
            "fracture",
        ),
    ],
)
def test_a_specific_finding_outranks_a_generic_normal_statement(text: str, target: str) -> None:
    assert read(text, target) == "positive"


def test_a_generic_normal_statement_decides_when_nothing_specific_is_said() -> None:
    assert read("IMPRESSION: No acute cardiopulmonary process.", "lung_nodule") == "negative"
    assert read("Conclusion : examen normal.", "fracture") == "negative"


# ---------------------------------------------- benign and old: device policy


@pytest.mark.parametrize(
    ("text", "target", "field", "status"),
    [
        ("Calcified granuloma in the right upper lobe.", "lung_nodule", "benign", "benign"),
        ("Granulome calcifié du lobe supérieur droit.", "lung_nodule", "benign", "benign"),
        ("Old healed fractures of the left fifth and sixth ribs.", "fracture", "historical", "old"),
        ("Ancienne fracture consolidée de la clavicule droite.", "fracture", "historical", "old"),
    ],
)
def test_benign_and_old_findings_count_as_the_device_policy_says(
    text: str, target: str, field: str, status: str
) -> None:
    """By default a report that sees only an old fracture or a granuloma looked and found
    no current target: negative; a device whose claim covers them counts them."""
    default = extract_outcome(text, target)
    assert (default.outcome, default.state) == ("negative", "decided")
    assert default.evidence is not None and default.evidence.status == status
    policy = ReadingPolicy(**{field: "positive"})
    assert read(text, target, policy) == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "History of femur fracture in 2019.",
        "Antécédent de résection d'un nodule pulmonaire en 2018.",
    ],
)
def test_a_past_history_alone_leaves_the_target_unmentioned(text: str) -> None:
    target = "fracture" if "fracture" in text else "lung_nodule"
    assert state(text, target) == "unmentioned"
    assert read(text, target, ReadingPolicy(historical="positive")) == "positive"


def test_an_old_fracture_does_not_hide_an_acute_one() -> None:
    text = "Old healed right rib fractures. Acute fracture of the left clavicle."
    assert read(text, "fracture") == "positive"


# ---------------------------------------------------------------- organs


@pytest.mark.parametrize(
    "text",
    [
        "Formation nodulaire du lobe droit thyroïdien de 12 mm.",
        "Nodule hépatique hypodense du segment VII.",
        "Foie : formation nodulaire hypodense de 8 mm.",
        "Nodule splénique de 9 mm.",
        "Nodules de carcinose du grand épiploon.",
        "Nodule de la corde vocale gauche.",
        "Thyroid nodule of 12 mm in the left lobe.",
        "Hypodense liver nodule.",
        "Splenic nodule of 9 mm.",
        "Omental nodules.",
        "Nodule of the left vocal cord.",
        "There is a lobulated mass lesion of the epiglottis.",
        "A 9 mm nodule at the tongue base.",
        "Pleural mass in the anterior sulcus of the right hemithorax.",
        "Masse de l'épiglotte étendue à la vallécule droite.",
        "Nodule amygdalien gauche de 11 mm.",
        "Testicule gauche : nodule hypoéchogène du pôle supérieur de 17 mm.",
        "Nodule pariétal de l'oesophage thoracique.",
        "Left testicular nodule, hypervascular on Doppler.",
        "Enhancing meningeal nodule along the falx.",
    ],
)
def test_a_nodule_of_another_organ_is_not_a_lung_nodule(text: str) -> None:
    result = extract_outcome(text, "lung_nodule")
    assert result.outcome is None
    assert result.state == "unmentioned"


@pytest.mark.parametrize(
    "text",
    [
        "Nodule du lobe supérieur droit de 6 mm.",
        "Poumons : nodule de 5 mm du lobe inférieur gauche.",
        "A 6 mm nodule in the right upper lobe.",
        "The lungs: a 4 mm subpleural nodule.",
        "A 5 mm pleural-based nodule in the right lower lobe.",
        "Multiple pulmonary nodules along the visceral and parietal pleura.",
    ],
)
def test_a_nodule_in_the_lung_counts(text: str) -> None:
    result = extract_outcome(text, "lung_nodule")
    assert result.outcome == "positive"
    assert result.evidence is not None and result.evidence.organ == "lung"


@pytest.mark.parametrize(
    "text",
    [
        # "du nodule" refers back to the subcutaneous one.
        "Résultats :\nNodule sous-cutané de 13 mm. Réseau vasculaire au bord inférieur du nodule.",
        # A conclusion repeats what the findings placed in another organ.
        "Résultats :\nMasse pleurale antérieure droite de 48 mm.\n"
        "Conclusion :\nMasse tissulaire antérieure droite.",
        "FINDINGS: Pleural mass in the right anterior hemithorax.\n"
        "IMPRESSION: Large right anterior mass.",
    ],
)
def test_a_mention_that_refers_to_another_organs_nodule_is_that_one(text: str) -> None:
    assert state(text, "lung_nodule") == "unmentioned"


@pytest.mark.parametrize(
    "text",
    [
        "Résultats :\nNodule thyroïdien de 12 mm. Nodule du lobe supérieur droit de 6 mm.\n"
        "Conclusion :\nNodule de 6 mm.",
        "FINDINGS: Thyroid nodule. Left upper lobe nodule of 6 mm.\nIMPRESSION: 6 mm nodule.",
    ],
)
def test_a_conclusion_repeating_a_lung_nodule_still_counts(text: str) -> None:
    assert read(text, "lung_nodule") == "positive"


@pytest.mark.parametrize(
    "text",
    [
        # The antecedent is the last nodule stated, not one just negated.
        "Résultats :\nMasse de la paroi thoracique antérieure gauche de 62 mm.\n"
        "Parenchyme pulmonaire : pas de nodule, pas de masse.\n"
        "Conclusion :\nCette masse évoque un chondrosarcome.",
        # A conclusion repeats the adrenal nodule, whatever the lungs' negation says.
        "Résultat :\nParenchyme pulmonaire : pas de nodule ni de masse pulmonaire.\n"
        "Étage sus-mésocolique : nodule de la surrénale gauche de 15 mm.\n"
        "Conclusion :\nNodule de 15 mm, probablement bénin.",
        "FINDINGS:\nLungs: No consolidation, nodule or mass.\n"
        "Chest wall: There is a 2.4 cm irregular enhancing mass in the left breast.\n"
        "IMPRESSION:\n2.4 cm spiculated mass, suspicious for malignancy.",
        # A sentence that places itself first: "Au sein de la parotide, ..., formation".
        "Au sein de la parotide droite, dans le lobe superficiel, formation nodulaire de 18 mm.",
        "Within the liver, in the right lobe, a 12 mm hypoattenuating nodule.",
        # A lobe under an organ's heading is that organ's lobe.
        "FINDINGS:\nThyroid: A 1.5 cm hypoattenuating nodule is present in the right lobe.",
        # What comes "with" an organ's finding is that organ's; an apposition places it.
        "IMPRESSION: Nodular right pleural thickening with multiple masses. "
        "The largest mass is amenable to biopsy.",
        "IMPRESSION: 3.1 cm mass, likely nodal, with additional enlarged nodes.",
        # A pleural-based mass is not placed in the lung.
        "FINDINGS:\nThere is a 3.5 cm pleural-based mass along the left lateral chest wall.\n"
        "IMPRESSION:\nEnlarging 3.5 cm left pleural-based mass.",
    ],
)
def test_a_nodule_placed_in_another_organ_by_its_context_is_not_a_lung_nodule(
    text: str,
) -> None:
    assert read(text, "lung_nodule") != "positive"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Disparition complète du nodule du LM.", "negative"),
        ("Complete resolution of the right upper lobe nodule.", "negative"),
        ("Stable 6 mm nodule in the right upper lobe since 2019.", "positive"),
        ("Nodule du LSD stable depuis 2019.", "positive"),
        ("New 6 mm nodule in the right upper lobe, not present on the prior study.", "positive"),
        ("Nodule du LSD de 6 mm, non visible sur l'examen précédent.", "positive"),
        ("The previously seen nodule is not present on the current study.", "negative"),
    ],
)
def test_resolution_and_stability_of_a_lung_nodule(text: str, expected: str) -> None:
    assert read(text, "lung_nodule") == expected


@pytest.mark.parametrize(
    "text",
    [
        "EXAM: LOW-DOSE CT CHEST FOR LUNG CANCER SCREENING\nFINDINGS:\nNo pulmonary nodule.",
        "SCANNER THORACIQUE - RECHERCHE DE NODULE PULMONAIRE\nRésultats :\nPas de nodule.",
    ],
)
def test_the_exam_title_names_a_purpose_and_decides_nothing(text: str) -> None:
    assert read(text, "lung_nodule") == "negative"


def test_the_whole_report_in_capitals_is_not_a_title() -> None:
    assert read("CT CHEST: 6 MM NODULE IN THE RIGHT UPPER LOBE.", "lung_nodule") == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "Spiculated right upper lobe nodule with pleural retraction.",
        "Nodule of 8 mm with a pleural tag in the left lower lobe.",
        "Nodule spiculé de 12 mm, lobe supérieur droit, avec rétraction pleurale.",
        # An indication naming a limb is no exam title.
        "INDICATION: Bilateral arm pain.\nFINDINGS: Right upper lobe nodule.",
        "Heart size normal. Right upper lobe nodule of 8 mm.",
    ],
)
def test_an_organ_after_with_does_not_move_a_lung_nodule(text: str) -> None:
    assert read(text, "lung_nodule") == "positive"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The second item of a list that starts with another organ's finding.
        ("Adénopathies hilaires bilatérales et micronodules périlymphatiques.", "positive"),
        ("Foie : kyste et nodule de 12 mm.", None),
        # "and" between two things the organ does is no list of findings.
        (
            "The thyroid is enlarged with substernal extension and contains multiple "
            "nodules, the largest 2.7 cm in the right lobe.",
            None,
        ),
        # A flattened report whose headings start with a capital: the indication holds.
        (
            "TDM THORACO-ABDOMINO-PELVIENNE Indication : suivi de micronodules pulmonaires. "
            "Résultats : Thorax : les micronodules pulmonaires décrits ne sont plus visibles.",
            "negative",
        ),
        # Organ words joined before or after the term qualify it together.
        ("Secondary pulmonary and osseous metastases.", "positive"),
        ("Métastases hépatiques et pulmonaires.", "positive"),
        ("Métastases hépatiques et osseuses.", None),
        ("History of breast cancer with bone metastases.", None),
        # Liver segments in English too; a heading in markdown bold; "scan" is an exam.
        ("There is a hypervascular nodule in segment IVa.", None),
        (
            "**Brain MRI Report**\n**Reason for Exam**\nLung cancer metastatic to the lungs.\n"
            "**Findings**\nNo mass effect.",
            None,
        ),
        (
            "ABDOMINO-PELVIC SCAN\nREASON FOR EXAMINATION:\ncirrhosis.\nRESULTS:\n"
            "A 12 mm hypervascular nodule.",
            None,
        ),
        # "et" inside brackets is no list; a linking participle keeps the clause's organ.
        (
            "THORAX : les deux nodules pulmonaires du lobe inférieur droit (cibles 1 et 2 "
            "de l'examen initial) ne sont plus visibles.",
            "negative",
        ),
        (
            "Foyer hypermétabolique focal du lobe thyroïdien droit, SUVmax 8,4, "
            "correspondant à un nodule hypodense de 13 mm.",
            None,
        ),
        (
            "RADIOGRAPHIES DU FÉMUR DROIT\nConclusion : fracture pathologique du fémur droit "
            "sur métastase lytique.",
            None,
        ),
    ],
)
def test_lists_and_flattened_headings_place_a_nodule(text: str, expected: str | None) -> None:
    assert read(text, "lung_nodule") == expected


def test_the_evidence_names_the_organ_and_side_of_another_organ() -> None:
    result = extract_outcome("Nodule thyroïdien gauche de 12 mm.", "lung_nodule")
    assert result.evidence is not None
    assert (result.evidence.status, result.evidence.organ) == ("other_organ", "other")
    assert any(q.startswith("other_organ:") for q in result.evidence.qualifiers)


# ---------------------------------------------------------------- sections


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        (
            "Indication : recherche de nodule pulmonaire.\nRésultats : poumons normaux.",
            "lung_nodule",
            "negative",
        ),
        (
            "Clinical history: lung nodule.\nFindings: the lungs are clear.",
            "lung_nodule",
            "negative",
        ),
        ("Antécédents : fracture du fémur.\nRésultats : pas de fracture.", "fracture", "negative"),
        ("History: rib fractures.\nFindings: no acute fracture.", "fracture", "negative"),
        (
            "Comparison: CT of 2020 showing a nodule.\nFindings: no nodule.",
            "lung_nodule",
            "negative",
        ),
        (
            "Technique : scanner thoracique pour nodule.\nRésultats : pas de nodule.",
            "lung_nodule",
            "negative",
        ),
        ("INDICATION: fracture?", "fracture", None),
    ],
)
def test_indication_history_technique_and_comparison_never_decide(
    text: str, target: str, expected: str | None
) -> None:
    assert read(text, target) == expected


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        # Line breaks lost on the way (a flattened feed): the capitals still head sections.
        (
            "CLINICAL HISTORY: , lung nodule follow-up.,FINDINGS: , The lungs are clear.,"
            "IMPRESSION:, No pulmonary nodule.",
            "lung_nodule",
            "negative",
        ),
        (
            "CLINICAL HISTORY: cough. TECHNIQUE: CT of the chest, FINDINGS: 8 mm nodule in "
            "the right upper lobe. IMPRESSION: right upper lobe nodule.",
            "lung_nodule",
            "positive",
        ),
        (
            "INDICATION : traumatisme du poignet, RÉSULTATS : fracture du radius distal.",
            "fracture",
            "positive",
        ),
        # In lower case inside a line it is prose, not a heading: the indication holds.
        ("INDICATION: rule out fracture, history: fall.", "fracture", None),
    ],
)
def test_capital_headings_inside_a_line_open_their_section(
    text: str, target: str, expected: str | None
) -> None:
    assert read(text, target) == expected


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        # A re-reading or an addendum decides over the first reading when it speaks.
        (
            "Thorax : nodule de 5 mm du LSD.\nConclusion : nodule LSD à surveiller.\n\n"
            "Relecture Dr A : le nodule du LSD correspond à un vaisseau vu en coupe : pas de "
            "nodule pulmonaire.",
            "lung_nodule",
            "negative",
        ),
        (
            "Image de fracture de la base du 5e métatarsien.\nConcl : fracture base 5e MT.\n\n"
            "Relecture du Dr B : il ne s'agit pas d'une fracture mais d'un os accessoire.",
            "fracture",
            "negative",
        ),
        (
            "FINDINGS: No fracture.\nIMPRESSION: No acute osseous abnormality.\n"
            "ADDENDUM: On review, a nondisplaced fracture of the left fifth rib is present.",
            "fracture",
            "positive",
        ),
        # The purpose of a follow-up exam is not its finding.
        (
            "Contrôle à 3 mois d'un nodule de 9 mm du lobe moyen.\nDisparition du nodule du "
            "LM. Pas de nodule pulmonaire actuel.",
            "lung_nodule",
            "negative",
        ),
        # Pointing back, or beside an organ rather than in it.
        (
            "Plaques pleurales calcifiées, dont une d'aspect nodulaire de 15 mm en regard du "
            "LIG.\nConclusion : plaques pleurales ; la plus volumineuse, d'aspect nodulaire, "
            "est typique.",
            "lung_nodule",
            None,
        ),
        # A fracture of the testis is not a bone's; a compression known and stable is old.
        (
            "Conclusion : fracture testiculaire droite sans rupture de l'albuginée.",
            "fracture",
            None,
        ),
        ("Tassement L2 connu et stable.", "fracture", "negative"),
    ],
)
def test_re_readings_follow_ups_and_references(
    text: str, target: str, expected: str | None
) -> None:
    assert read(text, target) == expected


def test_the_evidence_gives_the_sentence_section_and_qualifiers() -> None:
    text = "INDICATION: trauma.\nFINDINGS: No acute, displaced rib fractures. Lungs clear."
    result = extract_outcome(text, "fracture")
    evidence = result.evidence
    assert result.section == "findings"
    assert evidence is not None
    assert evidence.sentence == "No acute, displaced rib fractures"
    assert evidence.qualifiers == ("negated: No",)


# ------------------------------------------- from the held-out sets' triage


@pytest.mark.parametrize(
    "text",
    [
        "ÉCHOGRAPHIE THYROÏDIENNE\nLobe droit : nodule de 14 mm, EU-TIRADS 4.",
        "IRM CÉRÉBRALE\nRésultats : nodule du lobe temporal droit.",
        "Patient de 54 ans.\nSCANNER ABDOMINO-PELVIEN\nRésultats : nodule hypodense de 9 mm.",
        "Nodule sous-cutané de la paroi thoracique. Pas d'autre anomalie.",
        "Échographie scrotale\nNodule hypoéchogène de 12 mm.",
        "SCROTAL ULTRASOUND\nA 12 mm hypoechoic nodule.",
        "IRM PROSTATIQUE\nZone de transition : nodules d'hyperplasie bénigne.",
        "ÉCHOGRAPHIE DES PARTIES MOLLES\nFormation nodulaire ovalaire de 32 mm.",
        "IRM CARDIAQUE\nLes dimensions du nodule sont de 34 x 25 mm.",
        "IRM DE LA CUISSE DROITE\nMasse de 9 cm du vaste latéral.",
        "MRI OF THE RIGHT THIGH\nA 9 cm mass of the vastus lateralis.",
        # A conclusion repeating the thyroid's nodule "du lobe gauche".
        "SCANNER THORACIQUE\nRésultats :\nThyroïde :\nNodule hypodense de 17 mm, lobe gauche.\n"
        "Poumons : pas de nodule pulmonaire.\n"
        "Conclusion : nodule de 17 mm du lobe gauche à explorer en échographie.",
    ],
)
def test_a_non_chest_exam_or_another_organ_never_makes_a_lung_nodule(text: str) -> None:
    assert read(text, "lung_nodule") != "positive"


def test_a_regex_entry_matches_whole_words_only() -> None:
    # "lsd" (lobe supérieur droit) is not the "lsd" inside a longer word.
    result = extract_outcome("Nodule thyroïdien, bilsdi. Pas d'autre anomalie.", "lung_nodule")
    assert result.outcome != "positive"


def test_french_adjectives_in_al_have_their_aux_plural() -> None:
    result = extract_outcome("Nodules sous-pleuraux bilatéraux de 4 mm.", "lung_nodule")
    assert (result.outcome, result.evidence and result.evidence.organ) == ("positive", "lung")


@pytest.mark.parametrize(
    "text",
    [
        "Opacité correspondant à une atélectasie et non à un nodule.",
        "Rounded atelectasis rather than a nodule.",
    ],
)
def test_a_corrective_negation_negates(text: str) -> None:
    assert read(text, "lung_nodule") == "negative"


@pytest.mark.parametrize(
    "text",
    ["Fissure horizontale de la corne postérieure du ménisque interne.", "Meniscal fissure."],
)
def test_a_tear_of_soft_tissue_is_not_a_fracture(text: str) -> None:
    assert read(text, "fracture") is None


def test_a_spine_level_does_not_make_an_english_report_french() -> None:
    text = "Lumbar spine. No acute fracture of L1, L2 or L3. Mild degenerative change at L4-L5."
    result = extract_outcome(text, "fracture")
    assert result.method.endswith(" en")
    assert result.outcome == "negative"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tassement d'allure bénigne ostéoporotique de L1 et L2.", "positive"),
        ("Tassement ostéoporotique de L3.", "positive"),
        ("Tassement cunéiforme ancien de T12.", "negative"),
        ("Tassement discal étagé de L4 et L5.", None),
    ],
)
def test_a_vertebral_compression_named_with_its_kind_before_its_level(
    text: str, expected: str | None
) -> None:
    assert read(text, "fracture") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tassements ostéoporotiques anciens de T11 et T12.", "negative"),
        ("Tassements vertébraux dorsaux étagés (D7, D9, D11) anciens.", "negative"),
        ("Compression deformity of T8, unchanged since 2019 and therefore chronic.", "negative"),
        ("Mild compression deformity of T8 which is unchanged since 2019.", "negative"),
        ("Compression deformity of L1, new since 2019.", "positive"),
        ("Fracture diaphysaire fémorale non consolidée.", "positive"),
        ("Non-united fracture of the scaphoid waist.", "positive"),
        ("Fracture consolidée de la clavicule.", "negative"),
        # An old cue qualifies its own item of a list, not the one before or after it.
        ("Tassement récent de L2 et tassements anciens de T7 et T9.", "positive"),
        ("Ancienne fracture de la clavicule et fracture récente du radius.", "positive"),
        ("Healed rib fractures and an acute fracture of the left clavicle.", "positive"),
        # Compressions named by their kind, physeal fractures of children.
        ("Lésion lytique de T11 compliquée d'un tassement pathologique récent.", "positive"),
        ("Lyse du corps vertébral de L2 avec tassement du plateau supérieur.", "positive"),
        ("Décollement épiphysaire du tibia distal de type Salter-Harris II.", "positive"),
        ("Salter-Harris II injury of the distal radius.", "positive"),
        # A prior exam is a comparison; absent from it is new.
        ("New L1 compression fracture since the prior study.", "positive"),
        ("New compression deformity of L1, not present on the prior study.", "positive"),
        ("Previous fracture of the left radius.", None),
    ],
)
def test_old_and_not_healed_fractures(text: str, expected: str) -> None:
    assert read(text, "fracture") == expected


def test_vertebral_compression_is_a_fracture() -> None:
    assert read("Tassement vertébral de L1 d'allure récente.", "fracture") == "positive"
    assert read("Ancien tassement vertébral de L1.", "fracture") == "negative"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nodule sous-cutané de la paroi thoracique de 12 mm. Ce nodule est stable.", None),
        ("Thyroid nodule of 2 cm. This nodule is hypoechoic.", None),
        ("Nodule du lobe supérieur droit. Ce nodule mesure 6 mm.", "positive"),
    ],
)
def test_a_nodule_referred_back_to_is_in_the_organ_named_first(
    text: str, expected: str | None
) -> None:
    assert read(text, "lung_nodule") == expected


def test_a_clinical_message_saying_mass_in_the_lung_gives_a_lung_nodule_outcome() -> None:
    """What HL7 and FHIR reports are read with (connectors.decisions.decide_outcome)."""
    from connectors.decisions import decide_outcome

    (decision,) = decide_outcome(
        "FINDINGS: small mass in the left lung.", (), source="report", targets=["lung_nodule"]
    )
    assert (decision.outcome, decision.reading, decision.section) == (
        "positive",
        "affirmed",
        "findings",
    )
