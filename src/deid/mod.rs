//! De-identification of DICOM data sets: the PS3.15 Annex E Basic Application Level
//! Confidentiality Profile. Every attribute of Table E.1-1 (`assets/deid/`, edition 2026c,
//! compiled in) gets its action — D a dummy value of its VR, Z empty, X removed, U a new UID
//! — in the data set and in every sequence item; attributes the table gives a choice by IOD
//! type (X/Z, X/D, Z/D, X/Z/D) get the choice that keeps any IOD valid (Z for X/Z, D for
//! the others), and the reference sequences (X/Z/U*) keep their items with new UIDs. All
//! private attributes, curves (50xx) and overlay data and comments (60xx,3000 / 60xx,4000)
//! are removed. UIDs map to `2.25.` + 128 bits of a keyed SHA-256 of the original (the
//! installation's secret), so the same UID gets the same new one in every run on this
//! installation and series, studies and frames of reference stay linked. Patient Identity
//! Removed becomes YES; the method and its code (113100) are added to any earlier
//! de-identification's record, which is kept. The options Retain Patient Characteristics
//! and Retain Device Identity keep what their columns of the table mark K (their C,
//! clean, gets the basic action) and add their codes. Pixels are never touched: what may carry
//! identity burned into the pixels is refused unless asked for ([`burned_in`]).
//! No I/O here (the files are `files`); depends on nothing of the app.

use std::collections::HashMap;

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_object::InMemDicomObject;
use sha2::{Digest, Sha256};

pub mod dates;
pub mod files;
#[cfg(unix)]
mod span;

/// Table E.1-1 as shipped (tab-separated group, element, action, name).
pub const TABLE: &str = include_str!("../../assets/deid/table_e1-1_basic.tsv");

/// Table E.1-1's Retain Patient Characteristics and Retain Device Identity columns
/// (tab-separated option, group, element, K or C, name).
pub const OPTIONS_TABLE: &str = include_str!("../../assets/deid/table_e1-1_options.tsv");

/// An option of the profile that keeps some attributes the basic profile would not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retain {
    /// Retain Patient Characteristics (113108): age, sex, size, weight, smoking…
    PatientCharacteristics,
    /// Retain Device Identity (113109): station name, serial numbers, device UIDs…
    DeviceIdentity,
}

impl Retain {
    fn column(self) -> &'static str {
        match self {
            Retain::PatientCharacteristics => "patient",
            Retain::DeviceIdentity => "device",
        }
    }

    fn code(self) -> (&'static str, &'static str) {
        match self {
            Retain::PatientCharacteristics => ("113108", "Retain Patient Characteristics Option"),
            Retain::DeviceIdentity => ("113109", "Retain Device Identity Option"),
        }
    }
}

/// The option's rows: tag → K (kept) or C (clean), with the attribute's name.
pub fn option_rows(option: Retain) -> Vec<(Tag, char, &'static str)> {
    OPTIONS_TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("option"))
        .filter_map(|l| {
            let mut f = l.split('\t');
            if f.next()? != option.column() {
                return None;
            }
            let g = u16::from_str_radix(f.next()?, 16).ok()?;
            let e = u16::from_str_radix(f.next()?, 16).ok()?;
            let action = f.next()?.chars().next()?;
            Some((Tag(g, e), action, f.next().unwrap_or("")))
        })
        .collect()
}

/// An action of Table E.1-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// D: a dummy value of the attribute's VR.
    Dummy,
    /// Z: empty (zero length).
    Empty,
    /// X: removed.
    Remove,
    /// U: a new UID, the same for the same original.
    Uid,
    /// X/Z: removed, or empty where the IOD requires the attribute (type 2).
    RemoveOrEmpty,
    /// X/D, Z/D, X/Z/D: a dummy where the IOD requires a value (type 1).
    DummyUnlessOptional,
    /// X/Z/U*: a reference sequence, kept with its UIDs replaced.
    References,
}

impl Action {
    pub fn parse(code: &str) -> Option<Action> {
        Some(match code {
            "D" => Action::Dummy,
            "Z" => Action::Empty,
            "X" => Action::Remove,
            "U" => Action::Uid,
            "X/Z" => Action::RemoveOrEmpty,
            "X/D" | "Z/D" | "X/Z/D" => Action::DummyUnlessOptional,
            "X/Z/U*" => Action::References,
            _ => return None,
        })
    }
}

/// The table: tag → action and the attribute's name.
pub fn table() -> HashMap<Tag, (Action, &'static str)> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("group"))
        .filter_map(|l| {
            let mut f = l.split('\t');
            let g = u16::from_str_radix(f.next()?, 16).ok()?;
            let e = u16::from_str_radix(f.next()?, 16).ok()?;
            let action = Action::parse(f.next()?)?;
            Some((Tag(g, e), (action, f.next().unwrap_or(""))))
        })
        .collect()
}

/// What the user asked for beyond the profile.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Patient's Name and Patient ID to write instead of the dummies.
    pub new_name: Option<String>,
    pub new_id: Option<String>,
    /// Retain Longitudinal Temporal Information with Modified Dates: every date (DA, and
    /// the date of a DT) the table would replace or remove is moved by this many days
    /// instead, the same for every file, so intervals between studies hold; times are
    /// kept. None: the Basic Profile's dummies.
    pub shift_days: Option<i64>,
    /// Options that keep what their column marks K (C, clean, is done as the basic
    /// profile's action: free text is not cleaned, it goes).
    pub retain: Vec<Retain>,
}

/// The de-identification method written into each file.
pub fn method() -> String {
    format!(
        "twinplan {}: PS3.15 E.1-1 Basic Profile (2026c)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The codes (Code Value) of a data set's De-identification Method Code Sequence, in order.
pub fn method_codes(obj: &InMemDicomObject) -> Vec<String> {
    obj.get(DEIDENTIFICATION_CODES)
        .and_then(|e| e.items())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get(Tag(0x0008, 0x0100))?.to_str().ok())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// De-identifies data sets with one table and one UID key.
pub struct Deidentifier {
    table: HashMap<Tag, (Action, &'static str)>,
    /// What the options keep (K in their columns).
    kept: std::collections::HashSet<Tag>,
    uid_key: [u8; 32],
    options: Options,
}

const PATIENT_NAME: Tag = Tag(0x0010, 0x0010);
const PATIENT_ID: Tag = Tag(0x0010, 0x0020);
const PATIENT_IDENTITY_REMOVED: Tag = Tag(0x0012, 0x0062);
const DEIDENTIFICATION_METHOD: Tag = Tag(0x0012, 0x0063);
const DEIDENTIFICATION_CODES: Tag = Tag(0x0012, 0x0064);

impl Deidentifier {
    /// `uid_key`: the secret new UIDs are derived with (the installation's, so the mapping
    /// holds across runs; see `audit::Installation::keyed_digest`).
    pub fn new(uid_key: [u8; 32], options: Options) -> Deidentifier {
        let kept = options
            .retain
            .iter()
            .flat_map(|&o| option_rows(o))
            .filter(|(_, a, _)| *a == 'K')
            .map(|(t, _, _)| t)
            .collect();
        Deidentifier {
            table: table(),
            kept,
            uid_key,
            options,
        }
    }

    /// The new UID for `uid`: `2.25.` and a 128-bit number from a keyed hash (at most 44
    /// characters, within the 64 a UID may have).
    pub fn new_uid(&self, uid: &str) -> String {
        let uid = uid.trim_end_matches(['\0', ' ']);
        let mut h = Sha256::new();
        h.update(b"twinplan-deid-uid\0");
        h.update(self.uid_key);
        h.update(uid.as_bytes());
        let digest = h.finalize();
        let mut n = [0u8; 16];
        n.copy_from_slice(&digest[..16]);
        format!("2.25.{}", u128::from_be_bytes(n))
    }

    /// De-identifies a data set (and every item of its sequences) in place.
    pub fn apply(&self, obj: &mut InMemDicomObject) {
        self.clean(obj);
        if let Some(name) = &self.options.new_name {
            obj.put(DataElement::new(
                PATIENT_NAME,
                VR::PN,
                PrimitiveValue::from(name.as_str()),
            ));
        }
        if let Some(id) = &self.options.new_id {
            obj.put(DataElement::new(
                PATIENT_ID,
                VR::LO,
                PrimitiveValue::from(id.as_str()),
            ));
        }
        obj.put(DataElement::new(
            PATIENT_IDENTITY_REMOVED,
            VR::CS,
            PrimitiveValue::from("YES"),
        ));
        // Earlier de-identifications are kept: this one is added to their record.
        let mut methods: Vec<String> = obj
            .get(DEIDENTIFICATION_METHOD)
            .and_then(|e| e.to_multi_str().ok())
            .map(|v| {
                v.iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut this = method();
        if self.options.shift_days.is_some() {
            this.push_str(", dates moved");
        }
        for o in &self.options.retain {
            this.push_str(match o {
                Retain::PatientCharacteristics => ", patient characteristics kept",
                Retain::DeviceIdentity => ", device identity kept",
            });
        }
        methods.push(this);
        obj.put(DataElement::new(
            DEIDENTIFICATION_METHOD,
            VR::LO,
            PrimitiveValue::Strs(methods.into_iter().collect()),
        ));
        let mut codes: Vec<InMemDicomObject> = match obj.take(DEIDENTIFICATION_CODES) {
            Some(e) => match e.into_value() {
                Value::Sequence(s) => s.into_items().into_vec(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        let mut wanted = vec![("113100", "Basic Application Confidentiality Profile")];
        if self.options.shift_days.is_some() {
            wanted.push((
                "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option",
            ));
        }
        wanted.extend(self.options.retain.iter().map(|o| o.code()));
        for (code, meaning) in wanted {
            let present = codes.iter().any(|c| {
                c.get(Tag(0x0008, 0x0100))
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim() == code)
            });
            if !present {
                codes.push(InMemDicomObject::from_element_iter([
                    DataElement::new(Tag(0x0008, 0x0100), VR::SH, PrimitiveValue::from(code)),
                    DataElement::new(Tag(0x0008, 0x0102), VR::SH, PrimitiveValue::from("DCM")),
                    DataElement::new(Tag(0x0008, 0x0104), VR::LO, PrimitiveValue::from(meaning)),
                ]));
            }
        }
        obj.put(DataElement::new(
            DEIDENTIFICATION_CODES,
            VR::SQ,
            Value::from(DataSetSequence::new(codes, Length::UNDEFINED)),
        ));
    }

    /// The profile's actions on one data set, recursively.
    fn clean(&self, obj: &mut InMemDicomObject) {
        let tags: Vec<Tag> = obj.tags().collect();
        for tag in tags {
            if tag == DEIDENTIFICATION_CODES || tag == DEIDENTIFICATION_METHOD {
                continue;
            }
            let private = tag.group() % 2 == 1;
            let curve_or_overlay_text = (0x5000..=0x50FF).contains(&tag.group())
                || ((0x6000..=0x60FF).contains(&tag.group())
                    && (tag.element() == 0x3000 || tag.element() == 0x4000));
            if private || curve_or_overlay_text {
                obj.remove_element(tag);
                continue;
            }
            let Some(element) = obj.take(tag) else {
                continue;
            };
            let action = self.table.get(&tag).map(|(a, _)| *a);
            if let Some(kept) = self.act(element, action) {
                obj.put(kept);
            }
        }
    }

    /// One element after its action (None: removed). Sequences not in the table are
    /// cleaned item by item.
    fn act(
        &self,
        element: DataElement<InMemDicomObject>,
        action: Option<Action>,
    ) -> Option<DataElement<InMemDicomObject>> {
        let tag = element.tag();
        let vr = element.vr();
        // Kept by an option: as it is (a sequence's items still go through the table),
        // except that a date follows the dates option when it is asked for too.
        if self.kept.contains(&tag) {
            return match (self.options.shift_days, vr) {
                (Some(days), VR::DA | VR::DT) => Some(shifted(element, vr, days)),
                _ => match element.value() {
                    Value::Sequence(_) => self.recurse(element),
                    _ => Some(element),
                },
            };
        }
        if let (Some(days), Some(a)) = (self.options.shift_days, action)
            && a != Action::Uid
            && matches!(vr, VR::DA | VR::DT | VR::TM)
        {
            return Some(shifted(element, vr, days));
        }
        match action {
            Some(Action::Remove) => None,
            Some(Action::Empty | Action::RemoveOrEmpty) => Some(empty(tag, vr)),
            // A sequence's dummy is its items with the table applied inside (references
            // keep their structure with new UIDs): emptying it left Type 3 sequences with
            // no item, which the IODs forbid (dciodvfy on the head CT).
            Some(Action::Dummy | Action::DummyUnlessOptional) if matches!(element.value(), Value::Sequence(s) if !s.items().is_empty()) => {
                self.recurse(element)
            }
            Some(Action::Dummy | Action::DummyUnlessOptional) => Some(dummy(tag, vr)),
            Some(Action::Uid) => match element.value() {
                Value::Primitive(_) => {
                    let uids: Vec<String> = element
                        .to_multi_str()
                        .map(|v| v.iter().map(|u| self.new_uid(u)).collect())
                        .unwrap_or_default();
                    Some(DataElement::new(
                        tag,
                        VR::UI,
                        PrimitiveValue::Strs(uids.into_iter().collect()),
                    ))
                }
                // A UID attribute that is a sequence (none in the table): cleaned.
                _ => self.recurse(element),
            },
            Some(Action::References) | None => match element.value() {
                Value::Sequence(_) => self.recurse(element),
                _ => Some(element),
            },
        }
    }

    fn recurse(
        &self,
        element: DataElement<InMemDicomObject>,
    ) -> Option<DataElement<InMemDicomObject>> {
        let tag = element.tag();
        let vr = element.vr();
        match element.into_value() {
            Value::Sequence(seq) => {
                let mut items = seq.into_items().into_vec();
                for item in &mut items {
                    self.clean(item);
                }
                Some(DataElement::new(
                    tag,
                    vr,
                    Value::from(DataSetSequence::new(items, Length::UNDEFINED)),
                ))
            }
            other => Some(DataElement::new(tag, vr, other)),
        }
    }
}

/// A date or date-time moved by `days` (a value that is not a date becomes the dummy);
/// a time is kept.
fn shifted(
    element: DataElement<InMemDicomObject>,
    vr: VR,
    days: i64,
) -> DataElement<InMemDicomObject> {
    let tag = element.tag();
    if vr == VR::TM {
        return element;
    }
    let Ok(values) = element.to_multi_str() else {
        return dummy(tag, vr);
    };
    let moved: Option<Vec<String>> = values
        .iter()
        .map(|v| {
            let v = v.trim_end_matches(['\0', ' ']);
            if v.is_empty() {
                Some(String::new())
            } else if vr == VR::DA {
                dates::shift_date(v, days)
            } else {
                dates::shift_datetime(v, days)
            }
        })
        .collect();
    match moved {
        Some(m) => DataElement::new(tag, vr, PrimitiveValue::Strs(m.into_iter().collect())),
        None => dummy(tag, vr),
    }
}

/// The element emptied (a sequence with no items).
fn empty(tag: Tag, vr: VR) -> DataElement<InMemDicomObject> {
    if vr == VR::SQ {
        return DataElement::new(
            tag,
            vr,
            Value::from(DataSetSequence::<InMemDicomObject>::empty()),
        );
    }
    DataElement::new(tag, vr, PrimitiveValue::Empty)
}

/// A dummy value of the VR (a sequence without items stays without; one with items is
/// cleaned item by item instead, in `act`).
fn dummy(tag: Tag, vr: VR) -> DataElement<InMemDicomObject> {
    let text = |s: &str| PrimitiveValue::from(s);
    let value = match vr {
        VR::SQ => return empty(tag, vr),
        VR::PN => text("ANONYMIZED"),
        VR::DA => text("19000101"),
        VR::DT => text("19000101000000"),
        VR::TM => text("000000"),
        VR::AS => text("000Y"),
        VR::UI => text("2.25.0"),
        VR::IS | VR::DS => text("0"),
        VR::US => PrimitiveValue::from(0u16),
        VR::SS => PrimitiveValue::from(0i16),
        VR::UL => PrimitiveValue::from(0u32),
        VR::SL => PrimitiveValue::from(0i32),
        VR::FL => PrimitiveValue::from(0f32),
        VR::FD => PrimitiveValue::from(0f64),
        VR::OB | VR::OW | VR::UN | VR::OF | VR::OD | VR::OL | VR::OV => {
            PrimitiveValue::U8(vec![0u8, 0u8].into())
        }
        VR::AE | VR::CS | VR::SH | VR::LO => text("ANONYMIZED"),
        _ => text("ANONYMIZED"),
    };
    DataElement::new(tag, vr, value)
}

/// Why a data set may show identity in its pixels (refused unless asked for), or None.
pub fn burned_in(obj: &InMemDicomObject) -> Option<String> {
    let text = |tag: Tag| {
        obj.get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().trim_end_matches('\0').to_ascii_uppercase())
    };
    if text(Tag(0x0028, 0x0301)).as_deref() == Some("YES") {
        return Some("Burned In Annotation is YES".into());
    }
    let modality = text(Tag(0x0008, 0x0060)).unwrap_or_default();
    if matches!(
        modality.as_str(),
        "US" | "IVUS" | "XC" | "ES" | "GM" | "SM" | "DOC" | "OT"
    ) {
        return Some(format!(
            "modality {modality} (ultrasound, photographs, scanned documents) often has \
             names or dates in its pixels"
        ));
    }
    let class = text(Tag(0x0008, 0x0016)).unwrap_or_default();
    let secondary_capture = class.starts_with("1.2.840.10008.5.1.4.1.1.7");
    let document = class == "1.2.840.10008.5.1.4.1.1.104.1"
        || class.starts_with("1.2.840.10008.5.1.4.1.1.104.");
    if secondary_capture {
        return Some("a secondary capture (a screenshot may show anything)".into());
    }
    if document {
        return Some("an encapsulated document".into());
    }
    None
}

#[cfg(test)]
mod tests;
