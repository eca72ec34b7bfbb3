//! The profile applied to a data set holding every attribute of Table E.1-1 (a value of its
//! VR each, and the same data set again inside a sequence item), private attributes and an
//! earlier de-identification's record.

use super::*;
use dicom_core::dictionary::DataDictionary;
use dicom_dictionary_std::StandardDataDictionary;

fn vr_of(tag: Tag) -> VR {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.vr.relaxed())
        .unwrap_or(VR::LO)
}

/// A value of the attribute's VR that could identify someone.
fn original(tag: Tag, vr: VR) -> DataElement<InMemDicomObject> {
    let t = |s: &str| PrimitiveValue::from(s);
    let value = match vr {
        VR::UI => t(&format!(
            "1.2.826.0.1.3680043.{}.{}",
            tag.group(),
            tag.element()
        )),
        VR::DA => t("19630412"),
        VR::DT => t("19630412101500"),
        VR::TM => t("101500"),
        VR::AS => t("063Y"),
        VR::IS | VR::DS => t("42"),
        VR::US => PrimitiveValue::from(42u16),
        VR::SS => PrimitiveValue::from(42i16),
        VR::UL => PrimitiveValue::from(42u32),
        VR::SL => PrimitiveValue::from(42i32),
        VR::FL => PrimitiveValue::from(42f32),
        VR::FD => PrimitiveValue::from(42f64),
        VR::OB | VR::OW | VR::UN | VR::OF | VR::OD | VR::OL | VR::OV => {
            PrimitiveValue::U8(vec![7u8, 7].into())
        }
        _ => t("Jane Q Public"),
    };
    DataElement::new(tag, vr, value)
}

fn every_attribute() -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    for (&tag, _) in table().iter() {
        let vr = vr_of(tag);
        if vr == VR::SQ {
            let item = InMemDicomObject::from_element_iter([original(Tag(0x0010, 0x0010), VR::PN)]);
            obj.put(DataElement::new(
                tag,
                VR::SQ,
                Value::from(DataSetSequence::new(vec![item], Length::UNDEFINED)),
            ));
        } else {
            obj.put(original(tag, vr));
        }
    }
    // Private attributes, a curve and overlay comments.
    obj.put(DataElement::new(
        Tag(0x0009, 0x0010),
        VR::LO,
        PrimitiveValue::from("ACME 1.0"),
    ));
    obj.put(DataElement::new(
        Tag(0x0009, 0x1001),
        VR::LO,
        PrimitiveValue::from("Jane Q Public"),
    ));
    obj.put(DataElement::new(
        Tag(0x5000, 0x3000),
        VR::OW,
        PrimitiveValue::U8(vec![1, 2].into()),
    ));
    obj.put(DataElement::new(
        Tag(0x6000, 0x4000),
        VR::LT,
        PrimitiveValue::from("Jane"),
    ));
    // Geometry the profile keeps.
    obj.put(DataElement::new(
        Tag(0x0020, 0x0032),
        VR::DS,
        PrimitiveValue::from("-12.5\\30\\7"),
    ));
    // An earlier de-identification.
    obj.put(DataElement::new(
        DEIDENTIFICATION_METHOD,
        VR::LO,
        PrimitiveValue::from("mri_reface"),
    ));
    obj.put(DataElement::new(
        DEIDENTIFICATION_CODES,
        VR::SQ,
        Value::from(DataSetSequence::new(
            vec![InMemDicomObject::from_element_iter([DataElement::new(
                Tag(0x0008, 0x0100),
                VR::SH,
                PrimitiveValue::from("113107"),
            )])],
            Length::UNDEFINED,
        )),
    ));
    obj
}

fn check(obj: &InMemDicomObject, before: &InMemDicomObject, d: &Deidentifier, depth: usize) {
    for (&tag, &(action, name)) in table().iter() {
        let Some(was) = before.get(tag) else { continue };
        let now = obj.get(tag);
        let same = now.is_some_and(|n| n.value() == was.value());
        match action {
            Action::Remove => assert!(now.is_none(), "{name} {tag} kept (X)"),
            Action::References => {}
            Action::Uid => {
                let now = now.unwrap_or_else(|| panic!("{name} {tag} removed (U)"));
                let old = was.to_str().expect("uid");
                let new = now.to_str().expect("uid");
                assert_eq!(new, d.new_uid(&old), "{name}");
                assert!(new.starts_with("2.25.") && new.len() <= 64 && new != old);
            }
            _ => assert!(
                !same,
                "{name} {tag} keeps its value ({action:?}, depth {depth})"
            ),
        }
    }
    for e in obj.iter() {
        assert!(e.tag().group() % 2 == 0, "private {} kept", e.tag());
        if let Value::Sequence(s) = e.value()
            && e.tag() != DEIDENTIFICATION_CODES
        {
            for item in s.items() {
                let orig =
                    InMemDicomObject::from_element_iter([original(Tag(0x0010, 0x0010), VR::PN)]);
                check(item, &orig, d, depth + 1);
            }
        }
    }
}

#[test]
fn every_attribute_of_the_table_gets_its_action() {
    let d = Deidentifier::new([7; 32], Options::default());
    let before = every_attribute();
    let mut obj = before.clone();
    d.apply(&mut obj);
    check(&obj, &before, &d, 0);
    assert!(obj.get(Tag(0x5000, 0x3000)).is_none() && obj.get(Tag(0x6000, 0x4000)).is_none());
    assert_eq!(
        obj.get(Tag(0x0020, 0x0032)).map(|e| e.value()),
        before.get(Tag(0x0020, 0x0032)).map(|e| e.value()),
        "geometry kept"
    );
    assert_eq!(
        obj.get(PATIENT_IDENTITY_REMOVED)
            .and_then(|e| e.to_str().ok())
            .as_deref(),
        Some("YES")
    );
    let methods = obj
        .get(DEIDENTIFICATION_METHOD)
        .and_then(|e| e.to_multi_str().ok())
        .expect("method");
    assert_eq!(methods.len(), 2, "{methods:?}");
    assert_eq!(methods[0], "mri_reface");
    let codes: Vec<String> = match obj.get(DEIDENTIFICATION_CODES).map(|e| e.value()) {
        Some(Value::Sequence(s)) => s
            .items()
            .iter()
            .filter_map(|i| i.get(Tag(0x0008, 0x0100)).and_then(|c| c.to_str().ok()))
            .map(|c| c.trim().to_string())
            .collect(),
        _ => Vec::new(),
    };
    assert_eq!(
        codes,
        ["113107", "113100"],
        "the earlier code kept, ours added"
    );
    // Nothing of the patient's name survives anywhere.
    let text = format!("{obj:?}");
    assert!(!text.contains("Jane"), "a name survived");
    // Applied twice, the record does not grow a second Basic Profile code.
    d.apply(&mut obj);
    assert_eq!(
        match obj.get(DEIDENTIFICATION_CODES).map(|e| e.value()) {
            Some(Value::Sequence(s)) => s.items().len(),
            _ => 0,
        },
        2
    );
}

#[test]
fn uids_map_the_same_way_with_the_same_key_only() {
    let a = Deidentifier::new([1; 32], Options::default());
    let b = Deidentifier::new([1; 32], Options::default());
    let c = Deidentifier::new([2; 32], Options::default());
    let uid = "1.2.840.113619.2.55.3.604688119.971.1";
    assert_eq!(a.new_uid(uid), b.new_uid(uid));
    assert_eq!(a.new_uid(uid), a.new_uid(&format!("{uid}\0")));
    assert_ne!(a.new_uid(uid), c.new_uid(uid));
    assert_ne!(a.new_uid(uid), a.new_uid("1.2.3"));
}

#[test]
fn new_name_and_id_replace_the_dummies() {
    let d = Deidentifier::new(
        [3; 32],
        Options {
            new_name: Some("CASE^017".into()),
            new_id: Some("T-017".into()),
            ..Options::default()
        },
    );
    let mut obj = every_attribute();
    d.apply(&mut obj);
    assert_eq!(
        obj.get(PATIENT_NAME)
            .and_then(|e| e.to_str().ok())
            .as_deref(),
        Some("CASE^017")
    );
    assert_eq!(
        obj.get(PATIENT_ID).and_then(|e| e.to_str().ok()).as_deref(),
        Some("T-017")
    );
}

#[test]
fn pixels_that_may_show_identity_are_named() {
    let with = |tag: Tag, vr: VR, v: &str| {
        InMemDicomObject::from_element_iter([DataElement::new(tag, vr, PrimitiveValue::from(v))])
    };
    assert!(burned_in(&with(Tag(0x0028, 0x0301), VR::CS, "YES")).is_some());
    assert!(burned_in(&with(Tag(0x0008, 0x0060), VR::CS, "US")).is_some());
    assert!(
        burned_in(&with(
            Tag(0x0008, 0x0016),
            VR::UI,
            "1.2.840.10008.5.1.4.1.1.7"
        ))
        .is_some()
    );
    assert!(burned_in(&with(Tag(0x0008, 0x0060), VR::CS, "CT")).is_none());
    assert!(burned_in(&with(Tag(0x0028, 0x0301), VR::CS, "NO")).is_none());
}

#[test]
fn with_modified_dates_every_date_moves_by_the_same_days_and_times_stay() {
    let d = Deidentifier::new(
        [4; 32],
        Options {
            shift_days: Some(-400),
            ..Options::default()
        },
    );
    let before = every_attribute();
    let mut obj = before.clone();
    d.apply(&mut obj);
    let mut moved = 0;
    for (&tag, &(action, name)) in table().iter() {
        let Some(was) = before.get(tag) else { continue };
        if action == Action::Uid {
            continue;
        }
        let now = obj
            .get(tag)
            .map(|e| e.to_str().map(|s| s.to_string()).unwrap_or_default());
        match was.vr() {
            // 1963-04-12 less 400 days.
            VR::DA => {
                assert_eq!(now.as_deref(), Some("19620308"), "{name}");
                moved += 1;
            }
            VR::DT => {
                assert_eq!(now.as_deref(), Some("19620308101500"), "{name}");
                moved += 1;
            }
            VR::TM => assert_eq!(now.as_deref(), Some("101500"), "{name}"),
            _ => {}
        }
    }
    assert!(moved > 20, "{moved} dates");
    let codes: Vec<String> = match obj.get(DEIDENTIFICATION_CODES).map(|e| e.value()) {
        Some(Value::Sequence(s)) => s
            .items()
            .iter()
            .filter_map(|i| i.get(Tag(0x0008, 0x0100)).and_then(|c| c.to_str().ok()))
            .map(|c| c.trim().to_string())
            .collect(),
        _ => Vec::new(),
    };
    assert!(codes.contains(&"113107".to_string()) && codes.contains(&"113100".to_string()));
}

#[test]
fn each_retain_option_keeps_exactly_its_k_attributes() {
    let before = every_attribute();
    let basic = {
        let mut o = before.clone();
        Deidentifier::new([5; 32], Options::default()).apply(&mut o);
        o
    };
    for option in [Retain::PatientCharacteristics, Retain::DeviceIdentity] {
        let rows = option_rows(option);
        assert!(rows.len() >= 19, "{option:?}: {} rows", rows.len());
        let d = Deidentifier::new(
            [5; 32],
            Options {
                retain: vec![option],
                ..Options::default()
            },
        );
        let mut obj = before.clone();
        d.apply(&mut obj);
        let mut checked = 0;
        for (tag, action) in table().iter().map(|(t, (a, _))| (*t, *a)) {
            let row = rows.iter().find(|(t, _, _)| *t == tag);
            let got = obj.get(tag).map(|e| e.value().clone());
            match row {
                // K: the original value, untouched (a sequence's items go through the
                // table like any other).
                Some((_, 'K', name)) if vr_of(tag) != VR::SQ => {
                    assert_eq!(
                        got,
                        before.get(tag).map(|e| e.value().clone()),
                        "{option:?} keeps {name}"
                    );
                }
                Some((_, 'K', name)) => assert!(got.is_some(), "{option:?} keeps {name}"),
                // C and everything else: exactly as without the option.
                _ if action != Action::Uid => {
                    assert_eq!(
                        got,
                        basic.get(tag).map(|e| e.value().clone()),
                        "{option:?} changes {tag}"
                    );
                }
                _ => {}
            }
            checked += 1;
        }
        assert!(checked > 600);
        let (code, _) = option.code();
        assert!(method_codes(&obj).contains(&code.to_string()), "{code}");
        assert!(!method_codes(&basic).contains(&code.to_string()));
    }
    // Named examples.
    let keep = |retain: Vec<Retain>, tag: Tag| {
        let mut o = before.clone();
        Deidentifier::new(
            [5; 32],
            Options {
                retain,
                ..Options::default()
            },
        )
        .apply(&mut o);
        o.get(tag).map(|e| e.value().clone()) == before.get(tag).map(|e| e.value().clone())
    };
    let age = Tag(0x0010, 0x1010);
    let allergies = Tag(0x0010, 0x2110);
    let station = Tag(0x0008, 0x1010);
    let device_uid = Tag(0x0018, 0x1002);
    let station_ae = Tag(0x0008, 0x0055);
    assert!(keep(vec![Retain::PatientCharacteristics], age));
    assert!(!keep(vec![], age));
    assert!(
        !keep(vec![Retain::PatientCharacteristics], allergies),
        "C is not kept"
    );
    assert!(keep(vec![Retain::DeviceIdentity], station));
    assert!(keep(vec![Retain::DeviceIdentity], device_uid), "K beats U");
    assert!(
        !keep(vec![Retain::DeviceIdentity], station_ae),
        "C is not kept"
    );
    assert!(!keep(vec![Retain::PatientCharacteristics], station));
}

#[test]
fn a_kept_device_date_still_moves_with_the_dates_option() {
    let before = every_attribute();
    let mut obj = before.clone();
    Deidentifier::new(
        [6; 32],
        Options {
            retain: vec![Retain::DeviceIdentity],
            shift_days: Some(10),
            ..Options::default()
        },
    )
    .apply(&mut obj);
    let date_of_manufacture = Tag(0x0018, 0x1204);
    assert_eq!(
        obj.get(date_of_manufacture)
            .and_then(|e| e.to_str().ok())
            .as_deref(),
        Some("19630422")
    );
    let codes = method_codes(&obj);
    for c in ["113100", "113107", "113109"] {
        assert!(codes.contains(&c.to_string()), "{c} in {codes:?}");
    }
}
