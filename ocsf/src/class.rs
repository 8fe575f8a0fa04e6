//! The OCSF 1.1.0 classes the export writes, with their numbers and names.

/// The OCSF schema version every event declares in `metadata.version`.
pub const OCSF_VERSION: &str = "1.1.0";

/// An OCSF event class this crate maps records to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OcsfClass {
    /// Sign-ins (3002).
    Authentication,
    /// Entra ID user changes (3001).
    AccountChange,
    /// Group membership and lifecycle (3006).
    GroupManagement,
    /// Role assignments (3005).
    UserAccessManagement,
    /// SharePoint and OneDrive file operations (6006).
    FileHostingActivity,
    /// Everything else: admin cmdlets, mailbox audits, other workloads (6003).
    ApiActivity,
    /// Compliance alerts and DLP matches (2004).
    DetectionFinding,
}

impl OcsfClass {
    /// Every class, in a stable order.
    pub const ALL: [OcsfClass; 7] = [
        OcsfClass::Authentication,
        OcsfClass::AccountChange,
        OcsfClass::GroupManagement,
        OcsfClass::UserAccessManagement,
        OcsfClass::FileHostingActivity,
        OcsfClass::ApiActivity,
        OcsfClass::DetectionFinding,
    ];

    /// `class_uid`.
    pub fn uid(self) -> i64 {
        match self {
            OcsfClass::Authentication => 3002,
            OcsfClass::AccountChange => 3001,
            OcsfClass::GroupManagement => 3006,
            OcsfClass::UserAccessManagement => 3005,
            OcsfClass::FileHostingActivity => 6006,
            OcsfClass::ApiActivity => 6003,
            OcsfClass::DetectionFinding => 2004,
        }
    }

    /// `class_name`.
    pub fn name(self) -> &'static str {
        match self {
            OcsfClass::Authentication => "Authentication",
            OcsfClass::AccountChange => "Account Change",
            OcsfClass::GroupManagement => "Group Management",
            OcsfClass::UserAccessManagement => "User Access Management",
            OcsfClass::FileHostingActivity => "File Hosting Activity",
            OcsfClass::ApiActivity => "API Activity",
            OcsfClass::DetectionFinding => "Detection Finding",
        }
    }

    /// `category_uid`.
    pub fn category_uid(self) -> i64 {
        self.uid() / 1000
    }

    /// `category_name`.
    pub fn category_name(self) -> &'static str {
        match self.category_uid() {
            2 => "Findings",
            3 => "Identity & Access Management",
            _ => "Application Activity",
        }
    }

    /// The profiles the class's events declare (`cloud`; `host` where the class offers it,
    /// for `actor`).
    pub fn profiles(self) -> &'static [&'static str] {
        match self {
            OcsfClass::FileHostingActivity | OcsfClass::ApiActivity => &["cloud"],
            _ => &["cloud", "host"],
        }
    }

    /// Whether the class has `src_endpoint` (the IAM group/role classes and findings do not).
    pub fn has_src_endpoint(self) -> bool {
        matches!(
            self,
            OcsfClass::Authentication
                | OcsfClass::AccountChange
                | OcsfClass::FileHostingActivity
                | OcsfClass::ApiActivity
        )
    }

    /// The short name used in the Security Lake custom source name (`<prefix>-<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            OcsfClass::Authentication => "authentication",
            OcsfClass::AccountChange => "account-change",
            OcsfClass::GroupManagement => "group-management",
            OcsfClass::UserAccessManagement => "user-access",
            OcsfClass::FileHostingActivity => "file-hosting",
            OcsfClass::ApiActivity => "api-activity",
            OcsfClass::DetectionFinding => "detection-finding",
        }
    }

    /// The class whose `class_uid` is `uid`.
    pub fn from_uid(uid: i64) -> Option<OcsfClass> {
        OcsfClass::ALL.into_iter().find(|c| c.uid() == uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_slugs_are_distinct() {
        for c in OcsfClass::ALL {
            assert_eq!(OcsfClass::from_uid(c.uid()), Some(c));
            let same_slug = OcsfClass::ALL
                .iter()
                .filter(|o| o.slug() == c.slug())
                .count();
            assert_eq!(same_slug, 1);
        }
        assert_eq!(OcsfClass::DetectionFinding.category_name(), "Findings");
        assert_eq!(OcsfClass::ApiActivity.category_uid(), 6);
    }
}
