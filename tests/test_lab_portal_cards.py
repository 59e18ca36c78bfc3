"""Everyday uploads' layouts: a portal's result card (the name on its line, "Value: 9 ug/L" below
it), a written date after a number, OCR's digits inside a unit's word, a name's "Ag"/"Ab" and a
ratio's spelt-out slash, and a series told with "up from" / "followed by". Each snippet was written
for these tests; each rule has a case it must not fire on."""

from __future__ import annotations

from datetime import date

from medupload.pipeline.extraction import extract
from medupload.pipeline.lab_ocr import repair_ocr_units

TODAY = date(2026, 12, 1)


def _valued(text: str) -> set[tuple[str, str | None, str | None]]:
    return {
        (f.concept, f.value, f.unit) for f in extract(text, today=TODAY).facts if f.kind == "lab" and f.value
    }


APP_CARDS = """Full blood count
3 October 2026
Added by: Example Surgery

Mean cell haemoglobin level
Value: 26.1 pg
Normal range: 27.0 - 32.0 pg
Below normal range

Serum potassium level
Value: 5.6 mmol/L
Normal range: 3.5 - 5.3 mmol/L

Microalbumin, Urine
Normal range: 0.0 - 1.9 mg/dL
Value
3.2 mg/dL
High

C reactive protein
12 October 2026
"""


def test_a_portal_card_reads_the_value_below_its_name_never_its_range() -> None:
    found = _valued(APP_CARDS)
    assert ("mean corpuscular hemoglobin", "26.1", "pg") in found
    assert ("potassium", "5.6", "mmol/L") in found
    assert ("urine microalbumin", "3.2", "mg/dL") in found
    values = {value for _, value, _ in found}
    assert not values & {"27.0", "3.5", "0.0", "12", "3"}  # ranges, a panel's date


def test_a_card_name_in_a_sentence_takes_no_value_from_the_next_line() -> None:
    text = "Please repeat the serum potassium level in a week.\nValue: 5.6 mmol/L\n"
    assert not {lab for lab in _valued(text) if lab[0] == "potassium"}


def test_a_day_of_a_written_date_is_no_value() -> None:
    text = (
        "Older results\nHaemoglobin estimation   3 June 2024   128 g/L\n"
        "Serum ferritin level   3 June 2024   21 ug/L\n"
    )
    assert _valued(text) == set()
    assert ("hemoglobin", "12.4", "g/dL") in _valued("Hemoglobin 12.4 g/dL on 3 June 2024")


def test_ocr_digits_inside_a_units_word_are_read_back() -> None:
    assert repair_ocr_units("200-950 ce1ls/uL") == "200-950 cells/uL"
    assert repair_ocr_units("3.80-5.10 Mi11ion/uL") == "3.80-5.10 Million/uL"
    assert repair_ocr_units("HbA1c/IFCC 48") == "HbA1c/IFCC 48"  # no unit's word
    row = "ABSOLUTE MONOCYTES               352                           200-950 ce1ls/uL       EZ\n"
    assert ("absolute monocyte count", "352", "cells/uL") in _valued(row)


def test_an_antigens_ag_and_a_ratios_spelt_out_slash_name_the_lab() -> None:
    row = "  Prostate Specific Ag        01  1.3              1.1     10/14/2025      ng/mL      0.0-4.0\n"
    assert ("prostate specific antigen", "1.3", "ng/mL") in _valued(row)
    prose = "Urinalysis reveals microalbumin to creatinine ratio 42.5."
    assert {c for c, _, _ in _valued(prose)} == {"urine albumin-creatinine ratio"}
    assert _valued("She has an Ag of 12 on the list.") == set()


def test_a_series_told_with_up_from_or_followed_by() -> None:
    found = _valued("Sodium 149; this is down from 151 yesterday. Creatinine 1.5 up from 1.2 yesterday.")
    assert {v for c, v, _ in found if c == "sodium"} == {"149", "151"}
    assert {v for c, v, _ in found if c == "creatinine"} == {"1.5", "1.2"}
    troponin = _valued("troponin was 0.01 followed by 0.04.")
    assert {v for _, v, _ in troponin} == {"0.01", "0.04"}
    # "from" without "up"/"down" right after the value is no series: "went up to 8.1 from 7.4 in May"
    assert {v for _, v, _ in _valued("A1c went up to 8.1 from 7.4 in May.")} == {"8.1"}


def test_an_approximate_value_in_range_without_the() -> None:
    assert ("glucose", "30", "mg/dL") in _valued("She was found to have glucose in 30 range.")
    assert _valued("INR in the 2-3 range is the goal.") == set()


def test_an_egfr_cards_name_keeps_its_body_surface_normalisation() -> None:
    card = "eGFR using creatinine (CKD-EPI) per 1.73 square metres\nValue: >90 mL/min/1.73m*2\n"
    assert {(c, v) for c, v, _ in _valued(card)} == {("egfr", ">90")}
    # the 1.73 of the name is never the value
    assert (
        _valued("eGFR using creatinine (CKD-EPI) per 1.73 square metres\nNormal range: No range given\n")
        == set()
    )


def test_thyroglobulin_is_the_lab_with_a_result_and_the_drug_with_a_dose() -> None:
    text = "Thyroglobulin quantitative less than 0.5 and thyroglobulin antibody less than 20, free T4 1.35."
    found = _valued(text)
    assert ("thyroglobulin", "<0.5", "ng/mL") in found
    assert ("thyroglobulin antibody", "<20", "IU/mL") in found
    drug = extract("She takes thyroglobulin 60 mg daily.", today=TODAY).facts
    assert [f.kind for f in drug if f.concept == "thyroglobulin"] == ["medication"]


def test_a_bare_percent_saturation_row_is_the_transferrin_saturation_only_in_an_iron_panel() -> None:
    panel = (
        "   IRON, TIBC AND FERRITIN PANEL\n"
        "     IRON, TOTAL                 28 L           40-190 mcg/dL\n"
        "     % SATURATION                6 L            16-45 % (calc)\n"
    )
    assert ("transferrin saturation", "6", "%") in _valued(panel)
    assert _valued("Vital signs\n% SATURATION   93\n") == set()


def test_card_variants_a_label_without_colon_a_hyphenated_number_in_the_name_a_bracketed_flag() -> None:
    text = (
        "Ferritin\nResult 22 ng/mL\nReference range: 15 - 150 ng/mL\n\n"
        "Vitamin D, 25-Hydroxy\nValue: 21 ng/mL (Low)\nReference range: 30 - 100 ng/mL\n"
    )
    found = _valued(text)
    assert ("ferritin", "22", "ng/mL") in found
    assert ("25-hydroxyvitamin d", "21", "ng/mL") in found
    assert {v for _, v, _ in found} == {"22", "21"}
    # a value line with more than a unit and a flag is no card's value
    assert _valued("Ferritin\nResult 22 ng/mL was sent to the GP on 3 May\n") == set()
