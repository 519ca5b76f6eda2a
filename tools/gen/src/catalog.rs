//! Names the synthetic data draws from: accounts, billing profiles, services, publishers.
//! None may contain a comma, a quote or a line break (the CSV writer never quotes).

/// Billing account ids; beyond the list, `{name}-{n}`.
pub const ACCOUNTS: [&str; 20] = [
    "contoso",
    "fabrikam",
    "northwind",
    "adventure-works",
    "tailspin",
    "woodgrove",
    "litware",
    "proseware",
    "wingtip",
    "alpine-ski",
    "coho-winery",
    "fourth-coffee",
    "wide-world",
    "margies-travel",
    "blue-yonder",
    "lucerne",
    "humongous",
    "trey-research",
    "adatum",
    "relecloud",
];

/// The billing account id of account `index`.
pub fn account_name(index: u32) -> String {
    let n = ACCOUNTS.len() as u32;
    let base = ACCOUNTS[(index % n) as usize];
    match index / n {
        0 => base.to_string(),
        k => format!("{base}-{}", k + 1),
    }
}

/// Billing profiles; every account has the first, and 2 to 5 of the others.
pub const PROFILES: [&str; 8] = [
    "Engineering",
    "Finance",
    "Marketing",
    "Research",
    "Operations",
    "Sales",
    "Data Platform",
    "IT",
];

/// Relative spend of an account's profiles, in the order they were drawn.
pub const PROFILE_WEIGHTS: [u32; 6] = [96, 48, 36, 28, 24, 20];

/// First-party services of `usage` lines with their weights (summing to 256).
pub const USAGE_SERVICES: [(&str, u32); 14] = [
    ("Virtual Machines", 72),
    ("Storage", 36),
    ("SQL Database", 26),
    ("App Service", 20),
    ("Azure Kubernetes Service", 24),
    ("Cosmos DB", 14),
    ("Bandwidth", 12),
    ("Azure Monitor", 10),
    ("Azure OpenAI", 12),
    ("Azure Functions", 6),
    ("Key Vault", 4),
    ("Azure Cache for Redis", 6),
    ("Azure Synapse Analytics", 8),
    ("Azure Firewall", 6),
];

/// Services of `reservation_usage` lines (four, picked by two random bits).
pub const RESERVATION_USAGE_SERVICES: [&str; 4] = [
    "Virtual Machines",
    "Virtual Machines",
    "SQL Database",
    "Cosmos DB",
];

/// Monthly-billed reservations and savings plans (`reservation_purchase`).
pub const RESERVATION_PURCHASES: [&str; 4] = [
    "Reserved VM Instances",
    "Savings Plan for Compute",
    "Reserved Capacity - SQL Database",
    "Reserved Capacity - Cosmos DB",
];

/// Marketplace offers with the "Azure benefit eligible" badge: (publisher, service).
pub const MARKETPLACE_ELIGIBLE: [(&str, &str); 8] = [
    ("Elastic", "Elastic Cloud"),
    ("Confluent", "Confluent Cloud"),
    ("Datadog", "Datadog"),
    ("MongoDB", "MongoDB Atlas"),
    ("Snowflake", "Snowflake Data Cloud"),
    ("NetApp", "Cloud Volumes ONTAP"),
    ("Dynatrace", "Dynatrace"),
    ("Elastic", "Elastic Observability"),
];

/// Other Marketplace offers: (publisher, service).
pub const MARKETPLACE_OTHER: [(&str, &str); 8] = [
    ("Canonical", "Ubuntu Pro"),
    ("Red Hat", "Red Hat Enterprise Linux"),
    ("Fortinet", "FortiGate NGFW"),
    ("Barracuda", "CloudGen Firewall"),
    ("Check Point", "CloudGuard Network Security"),
    ("Citrix", "Citrix ADC"),
    ("Palo Alto Networks", "VM-Series Firewall"),
    ("Canonical", "Ubuntu Pro for SAP"),
];

pub const SUPPORT_SERVICE: &str = "Azure Support";
pub const PREPAYMENT_SERVICE: &str = "Azure Prepayment";
/// The service a refund corrects.
pub const REFUND_SERVICE: &str = "Virtual Machines";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_catalog_is_csv_safe_and_weights_sum_to_256() {
        assert_eq!(USAGE_SERVICES.iter().map(|s| s.1).sum::<u32>(), 256);
        let all = ACCOUNTS
            .iter()
            .chain(PROFILES.iter())
            .chain(USAGE_SERVICES.iter().map(|s| &s.0))
            .chain(RESERVATION_PURCHASES.iter())
            .chain(MARKETPLACE_ELIGIBLE.iter().flat_map(|p| [&p.0, &p.1]))
            .chain(MARKETPLACE_OTHER.iter().flat_map(|p| [&p.0, &p.1]));
        for s in all {
            assert!(
                !s.is_empty() && !s.contains([',', '"', '\n', '\r']),
                "{s:?}"
            );
        }
        assert_eq!(account_name(0), "contoso");
        assert_eq!(account_name(20), "contoso-2");
        assert_eq!(account_name(41), "fabrikam-3");
    }
}
