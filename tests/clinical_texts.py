"""Ground-truth clinical texts for the extraction tests.

Each case is a realistic document (some with OCR slips) and the facts a careful annotator
would mark within our vocabularies' scope. An expected fact is found by kind, concept and an
``anchor`` that must occur in the fact's text; ``attrs`` are checked exactly (assertions
default to False and are always checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Expected:
    kind: str
    concept: str
    anchor: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    document_type: str
    document_date: str | None
    facts: tuple[Expected, ...]


def E(kind: str, concept: str, anchor: str, **attrs: Any) -> Expected:
    return Expected(kind, concept, anchor, attrs)


CASES: tuple[Case, ...] = (
    Case(
        name="lab_report_diabetes",
        text="""NORTHSIDE CLINICAL LABORATORY
LAB REPORT
Patient: J. Doe            DOB: 04/12/1961
Collection Date: 03/02/2026      Report Date: 03/03/2026
Specimen: Serum / Urine

Test                         Result    Units            Reference Range
HbAlc                        7.8       %   H            4.0-5.6
Glucose, fasting             142       mg/dL  H         70-99
Cholesterol, Total           212       mg/dL            <200
HDL Cholesterol              38        mg/dL  L         >40
LDL Cholesterol              131       mg/dL            <100
Triglycerides                215       mg/dL            <150
Creatinine                   1.1       mg/dL            0.6-1.2
eGFR                         68        mL/min/1.73m2    >60
Microalbumin/Creatinine Ratio 42      mg/g             <30
""",
        document_type="lab_report",
        document_date="2026-03-03",
        facts=(
            E("lab", "hemoglobin a1c", "HbAlc", value="7.8", unit="%", date="2026-03-02"),
            E("lab", "glucose", "Glucose", value="142", unit="mg/dL"),
            E("lab", "total cholesterol", "Cholesterol", value="212", unit="mg/dL"),
            E("lab", "hdl cholesterol", "HDL", value="38", unit="mg/dL"),
            E("lab", "ldl cholesterol", "LDL", value="131", unit="mg/dL"),
            E("lab", "triglycerides", "Triglycerides", value="215", unit="mg/dL"),
            E("lab", "creatinine", "Creatinine", value="1.1", unit="mg/dL"),
            E("lab", "egfr", "eGFR", value="68", unit="mL/min/1.73m2"),
            E("lab", "urine albumin-creatinine ratio", "Microalbumin", value="42", unit="mg/g"),
        ),
    ),
    Case(
        name="lab_report_si_units",
        text="""St Mary's Hospital Pathology - Laboratory Results
Date collected: 14 Jan 2026
Haemoglobin A1c: 6.4 %
Fasting glucose: 7.2 mmol/L
Total cholesterol: 5.2 mmol/L
Creatinine: 88 umol/L
Urine albumin/creatinine ratio 3.1 mg/mmol
Potassium 4.6 mmol/L
Sodium 139 mmol/L
""",
        document_type="lab_report",
        document_date="2026-01-14",
        facts=(
            E("lab", "hemoglobin a1c", "Haemoglobin A1c", value="6.4", unit="%", date="2026-01-14"),
            # Values stay as written, in their own unit (what staff and patients read on the report).
            E("lab", "glucose", "glucose", value="7.2", unit="mmol/L"),
            E("lab", "total cholesterol", "cholesterol", value="5.2", unit="mmol/L"),
            E("lab", "creatinine", "Creatinine", value="88", unit="umol/L"),
            E("lab", "urine albumin-creatinine ratio", "albumin/creatinine", value="3.1", unit="mg/mmol"),
            E("lab", "potassium", "Potassium", value="4.6", unit="mmol/L"),
            E("lab", "sodium", "Sodium", value="139", unit="mmol/L"),
        ),
    ),
    Case(
        name="medication_list_brands",
        text="""CURRENT MEDICATION LIST
Date: 02/10/2026
Pharmacy: Main Street Pharmacy

MEDICATIONS:
1. Glucophage 500 mg PO BID with meals
2. Metformln ER 1000mg by mouth once daily
3. Lipitor 40 mg at bedtime
4. Lisinopril 10 mg tablet, take 1 tablet orally daily
5. Lantus 20 units subcutaneous at bedtime
6. Aspirin 81 mg PO daily
7. Albuterol inhaler 2 puffs every 4 hours as needed for wheezing
8. Discontinued: glipizide 5 mg

ALLERGIES: Penicillin (hives), sulfa
""",
        document_type="medication_list",
        document_date="2026-02-10",
        facts=(
            E(
                "medication",
                "metformin",
                "Glucophage",
                value="500",
                unit="mg",
                route="oral",
                frequency="twice daily",
            ),
            E(
                "medication",
                "metformin",
                "Metformln",
                value="1000",
                unit="mg",
                route="oral",
                frequency="once daily",
            ),
            E("medication", "atorvastatin", "Lipitor", value="40", unit="mg", frequency="at bedtime"),
            E(
                "medication",
                "lisinopril",
                "Lisinopril",
                value="10",
                unit="mg",
                route="oral",
                frequency="once daily",
            ),
            E(
                "medication",
                "insulin glargine",
                "Lantus",
                value="20",
                unit="units",
                route="subcutaneous",
                frequency="at bedtime",
            ),
            E(
                "medication",
                "aspirin",
                "Aspirin",
                value="81",
                unit="mg",
                route="oral",
                frequency="once daily",
            ),
            E("medication", "albuterol", "Albuterol", route="inhaled", frequency="every 4 hours"),
            # Found since the vocabulary has ICD-10-CM (issue 9): the drug's indication.
            E("condition", "wheezing", "wheezing"),
            # Discontinued = taken before, stopped: historical (was negated before issue 9).
            E("medication", "glipizide", "glipizide", historical=True),
            E("allergy", "penicillin", "Penicillin"),
            E("allergy", "sulfonamide antibiotics", "sulfa"),
        ),
    ),
    Case(
        name="discharge_summary",
        text="""DISCHARGE SUMMARY
Admission Date: 01/03/2026
Discharge Date: 01/07/2026

HISTORY OF PRESENT ILLNESS:
67-year-old man admitted with community-acquired pneumonia. He denies chest pain.
No history of diabetes. He has a history of hypertension and hyperlipidemia.

PAST MEDICAL HISTORY:
Myocardial infarction in 2015.

FAMILY HISTORY:
Mother had breast cancer. Father with coronary artery disease.

HOSPITAL COURSE:
Treated with ceftriaxone and azithromycin. Chest x-ray showed right lower lobe consolidation.
ECG showed normal sinus rhythm. Hemoglobin 12.1 g/dL on 01/05/2026.

DISCHARGE MEDICATIONS:
Amoxicillin 500 mg PO three times daily for 5 days
Metoprolol 25 mg PO twice daily

ALLERGIES: NKDA

INSTRUCTIONS:
Return if fever develops or if shortness of breath worsens.
""",
        document_type="discharge_summary",
        document_date="2026-01-07",
        facts=(
            E("condition", "pneumonia", "pneumonia"),
            E("condition", "chest pain", "chest pain", negated=True),
            E("condition", "diabetes mellitus", "diabetes", negated=True),
            # "a history of" a chronic condition: he has it now (the labels of all three
            # MTSamples sets and a clinician's reading; an acute event's history is past).
            E("condition", "essential hypertension", "hypertension"),
            E("condition", "hyperlipidemia", "hyperlipidemia"),
            E("condition", "myocardial infarction", "Myocardial infarction", historical=True),
            E("condition", "breast cancer", "breast cancer", family=True),
            E("condition", "coronary artery disease", "coronary artery disease", family=True),
            E("medication", "ceftriaxone", "ceftriaxone"),
            E("medication", "azithromycin", "azithromycin"),
            E("procedure", "chest x-ray", "Chest x-ray"),
            E("procedure", "electrocardiogram", "ECG"),
            E("lab", "hemoglobin", "Hemoglobin", value="12.1", unit="g/dL", date="2026-01-05"),
            E(
                "medication",
                "amoxicillin",
                "Amoxicillin",
                value="500",
                unit="mg",
                route="oral",
                frequency="three times daily",
            ),
            E("medication", "metoprolol", "Metoprolol", value="25", unit="mg", frequency="twice daily"),
            E("allergy", "no known drug allergies", "NKDA"),
            E("condition", "fever", "fever", hypothetical=True),
            E("condition", "shortness of breath", "shortness of breath", hypothetical=True),
        ),
    ),
    Case(
        name="clinic_note_negations",
        text="""PROGRESS NOTE
Date of Service: 11/20/2025

CHIEF COMPLAINT: Follow-up of type 2 diabetes.

REVIEW OF SYSTEMS: Negative for fever, cough or dyspnea. Denies nausea and vomiting.
No palpitations. Patient reports fatigue.

ASSESSMENT:
1. Type 2 diabetes mellitus, suboptimally controlled.
2. Possible obstructive sleep apnea.
3. Rule out hypothyroidism.

PLAN: Check TSH. Continue metformin 1000 mg twice daily.
""",
        document_type="other",
        document_date="2025-11-20",
        facts=(
            E("condition", "type 2 diabetes mellitus", "type 2 diabetes"),
            E("condition", "fever", "fever", negated=True),
            E("condition", "cough", "cough", negated=True),
            E("condition", "dyspnea", "dyspnea", negated=True),
            E("condition", "nausea and vomiting", "nausea and vomiting", negated=True),
            E("condition", "palpitations", "palpitations", negated=True),
            E("condition", "fatigue", "fatigue"),
            E("condition", "type 2 diabetes mellitus", "Type 2 diabetes mellitus"),
            E("condition", "obstructive sleep apnea", "obstructive sleep apnea", uncertain=True),
            E("condition", "hypothyroidism", "hypothyroidism", uncertain=True),
            E("medication", "metformin", "metformin", value="1000", unit="mg", frequency="twice daily"),
        ),
    ),
    Case(
        name="preop_cbc_ocr",
        text="""QUEST DIAGNOSTlCS   LABORATORY REPORT
Collected: 2026-02-20
COMPLETE BLOOD COUNT (CBC)
WBC        6.8    x10^3/uL    4.0-11.0
Hemoglobin 13.9   g/dL        13.5-17.5
Hematocrit 41.2   %           41-53
Platelets  245    K/uL        150-400
PT/INR
INR        1.0                0.8-1.2
""",
        document_type="lab_report",
        document_date="2026-02-20",
        facts=(
            E("lab", "complete blood count", "COMPLETE BLOOD COUNT"),
            E("lab", "complete blood count", "CBC"),
            E("lab", "white blood cell count", "WBC", value="6.8", unit="10*3/uL"),
            E("lab", "hemoglobin", "Hemoglobin", value="13.9", unit="g/dL"),
            E("lab", "hematocrit", "Hematocrit", value="41.2", unit="%"),
            E("lab", "platelet count", "Platelets", value="245", unit="10*3/uL"),
            E("lab", "inr", "INR", value="1.0", unit=None),
        ),
    ),
    Case(
        name="ecg_report",
        text="""CARDIOLOGY - 12-LEAD ECG REPORT
Study Date: 02/25/2026
Indication: pre-operative evaluation for total knee arthroplasty.
Rhythm: normal sinus rhythm, rate 72. No evidence of atrial fibrillation.
No acute ST changes. Impression: normal electrocardiogram.
""",
        document_type="other",
        document_date="2026-02-25",
        facts=(
            E("procedure", "electrocardiogram", "12-LEAD ECG"),
            E("procedure", "total knee arthroplasty", "total knee arthroplasty", hypothetical=True),
            E("condition", "atrial fibrillation", "atrial fibrillation", negated=True),
            E("procedure", "electrocardiogram", "electrocardiogram"),
        ),
    ),
    Case(
        name="referral_letter",
        text="""Riverside Family Practice
March 1, 2026

Dear Dr. Patel,

Thank you for seeing Mrs. A. Smith, a 58-year-old woman with type 2 diabetes, hypertension
and chronic kidney disease stage 3, whom I am referring for nephrology review. Her most
recent HbA1c was 8.1% and creatinine 1.6 mg/dL. She is on losartan 50 mg daily and
Jardiance 10 mg daily. She is allergic to codeine. Her sister has lupus; her father had
a stroke. She has no history of heart failure.

Sincerely,
Dr. R. Jones
""",
        document_type="referral_letter",
        document_date="2026-03-01",
        facts=(
            E("condition", "type 2 diabetes mellitus", "type 2 diabetes"),
            E("condition", "essential hypertension", "hypertension"),
            E("condition", "chronic kidney disease", "chronic kidney disease"),
            E("lab", "hemoglobin a1c", "HbA1c", value="8.1", unit="%"),
            E("lab", "creatinine", "creatinine", value="1.6", unit="mg/dL"),
            E("medication", "losartan", "losartan", value="50", unit="mg", frequency="once daily"),
            E("medication", "empagliflozin", "Jardiance", value="10", unit="mg", frequency="once daily"),
            E("allergy", "codeine", "codeine"),
            E("condition", "systemic lupus erythematosus", "lupus", family=True),  # issue 9 vocabulary
            E("condition", "stroke", "stroke", family=True),
            E("condition", "heart failure", "heart failure", negated=True),
        ),
    ),
    Case(
        name="imaging_report",
        text="""RADIOLOGY REPORT
Exam Date: 12/15/2025
EXAM: Chest radiograph, 2 views.
COMPARISON: None.
FINDINGS: No focal consolidation to suggest pneumonia. No pleural effusion.
Heart size normal.
IMPRESSION: No acute cardiopulmonary process. Emphysema.
""",
        document_type="imaging_report",
        document_date="2025-12-15",
        facts=(
            E("procedure", "chest x-ray", "Chest radiograph"),
            E("condition", "pneumonia", "pneumonia", negated=True),
            E("condition", "pleural effusion", "pleural effusion", negated=True),  # issue 9 vocabulary
            E("condition", "chronic obstructive pulmonary disease", "Emphysema"),
        ),
    ),
    Case(
        name="insurance_and_immunization",
        text="""IMMUNIZATION RECORD
Influenza vaccine  Lot number: AB1234   Date: 10/01/2025
Tdap vaccine       Lot number: TD5678   Date: 09/14/2021
Allergies: none
No known history of asthma.
""",
        document_type="immunization_record",
        document_date="2025-10-01",
        facts=(
            E("allergy", "no known drug allergies", "Allergies: none"),
            E("condition", "asthma", "asthma", negated=True),
        ),
    ),
)
