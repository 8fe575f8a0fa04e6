//! The `UserType` enumeration: who performed the action.

/// The documented names, indexed by value 0..=10 (spec §11.3).
pub const USER_TYPES: [&str; 11] = [
    "Regular",
    "Reserved",
    "Admin",
    "DcAdmin",
    "System",
    "Application",
    "ServicePrincipal",
    "CustomPolicy",
    "SystemPolicy",
    "PartnerTechnician",
    "Guest",
];

/// Looks up the documented name of a user type; unknown values (e.g. 12) have none.
pub fn user_type_name(n: i64) -> Option<&'static str> {
    usize::try_from(n)
        .ok()
        .and_then(|i| USER_TYPES.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(user_type_name(0), Some("Regular"));
        assert_eq!(user_type_name(2), Some("Admin"));
        assert_eq!(user_type_name(10), Some("Guest"));
        assert_eq!(user_type_name(12), None);
        assert_eq!(user_type_name(-1), None);
    }
}
