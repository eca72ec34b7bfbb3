//! Tests of the ui module.

use super::*;

#[test]
fn group_digits_groups_thousands() {
    assert_eq!(group_digits(1_234_567), "1 234 567");
    assert_eq!(group_digits(12), "12");
}
