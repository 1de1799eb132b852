//! What a deployment costs per month on demand, from a bundled, dated price table.
//!
//! The objects that AWS bills by the hour or by the gigabyte-month are priced from their
//! inputs (the spec's settings, [`crate::change::inputs`], or what a state recorded), so a
//! spec and a deployment's state are priced the same way and a day-two plan shows the
//! change: instances and their root volumes, databases and their storage (Multi-AZ pays
//! both twice), NAT gateways, load balancers (their hourly charge only), public IPv4
//! addresses and file systems (storage billed by use). Everything else strato makes is
//! free (VPCs, subnets, route tables, security groups, key pairs, imported certificates,
//! IAM roles, target groups, listeners, mount targets).
//!
//! The table (`prices-us-east-1.toml`) is us-east-1's, with its date and sources; a type it
//! does not list is "price unknown", never guessed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::change::Inputs;
use crate::{Graph, Kind};

const BUNDLED: &str = include_str!("prices-us-east-1.toml");

/// On-demand prices of one region.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// The day the prices were read from `sources`, `YYYY-MM-DD`.
    pub as_of: String,
    pub region: String,
    pub currency: String,
    pub hours_per_month: f64,
    pub sources: Vec<String>,
    pub nat_gateway_hour: f64,
    pub load_balancer_hour: f64,
    pub public_ipv4_hour: f64,
    pub efs_standard_gb_month: f64,
    /// The root volume of an instance whose spec gives no size (the image's).
    pub default_root_gb: i64,
    pub ebs_gb_month: BTreeMap<String, f64>,
    pub rds_storage_gb_month: BTreeMap<String, f64>,
    pub ec2_hour: BTreeMap<String, f64>,
    /// Per engine (`mysql`, `mariadb`, `postgres`), per instance class.
    pub rds_hour: BTreeMap<String, BTreeMap<String, f64>>,
}

impl PriceTable {
    /// The table built into strato.
    pub fn bundled() -> Result<&'static PriceTable, String> {
        static TABLE: OnceLock<Result<PriceTable, String>> = OnceLock::new();
        TABLE.get_or_init(|| PriceTable::parse(BUNDLED)).as_ref().map_err(Clone::clone)
    }

    pub fn parse(text: &str) -> Result<PriceTable, String> {
        toml::from_str(text).map_err(|e| format!("the price table does not read: {e}"))
    }

    fn monthly(&self, hourly: f64) -> Cents {
        Cents::of(hourly * self.hours_per_month)
    }
}

/// An amount of money in cents of the table's currency: sums are exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cents(pub i64);

impl Cents {
    /// `dollars` rounded to the cent.
    pub fn of(dollars: f64) -> Cents {
        Cents((dollars * 100.0).round() as i64)
    }

    pub fn dollars(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// `+$12.34`, `-$5.00`, `$0.00`.
    pub fn signed(self) -> String {
        match self.0 {
            0 => "$0.00".to_string(),
            n if n > 0 => format!("+{self}"),
            n => format!("-{}", Cents(-n)),
        }
    }
}

impl std::ops::Add for Cents {
    type Output = Cents;
    fn add(self, o: Cents) -> Cents {
        Cents(self.0 + o.0)
    }
}

impl std::ops::Sub for Cents {
    type Output = Cents;
    fn sub(self, o: Cents) -> Cents {
        Cents(self.0 - o.0)
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents(0), |a, b| a + b)
    }
}

/// `$1,234.56` (the magnitude; see [`Cents::signed`] for a change).
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.unsigned_abs();
        let whole = (n / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "${grouped}.{:02}", n % 100)
    }
}

/// What a line is for; the text output sums lines per category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Instances,
    RootVolumes,
    Databases,
    DatabaseStorage,
    NatGateways,
    LoadBalancers,
    PublicIpv4,
    FileSystems,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Instances,
        Category::RootVolumes,
        Category::Databases,
        Category::DatabaseStorage,
        Category::NatGateways,
        Category::LoadBalancers,
        Category::PublicIpv4,
        Category::FileSystems,
    ];

    /// The stable name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Instances => "instances",
            Category::RootVolumes => "root_volumes",
            Category::Databases => "databases",
            Category::DatabaseStorage => "database_storage",
            Category::NatGateways => "nat_gateways",
            Category::LoadBalancers => "load_balancers",
            Category::PublicIpv4 => "public_ipv4",
            Category::FileSystems => "file_systems",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Category::Instances => "EC2 instances",
            Category::RootVolumes => "EBS root volumes",
            Category::Databases => "RDS instances",
            Category::DatabaseStorage => "RDS storage",
            Category::NatGateways => "NAT gateways",
            Category::LoadBalancers => "load balancers",
            Category::PublicIpv4 => "public IPv4 addresses",
            Category::FileSystems => "EFS file systems",
        }
    }

    /// What the category's figure leaves out, if anything.
    pub fn not_included(self) -> Option<&'static str> {
        match self {
            Category::NatGateways => Some("data processed by NAT gateways"),
            Category::LoadBalancers => Some("load balancers' LCUs and data (hourly charge only)"),
            Category::Databases | Category::DatabaseStorage => Some("RDS backups beyond the free allowance"),
            _ => None,
        }
    }
}

/// The monthly price of a line.
#[derive(Clone, Debug, PartialEq)]
pub enum Price {
    Monthly(Cents),
    /// The table has no price for the line's type.
    Unknown,
    /// Billed by what is stored, which nothing in the spec says.
    ByUse {
        per_gb_month: f64,
    },
}

/// One billed part of one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub address: String,
    pub category: Category,
    /// What is billed: `t3.micro`, `20 GB gp3`, `db.m5.large mysql Multi-AZ`, `Elastic IP`.
    pub item: String,
    /// How many units the price is for (addresses of a load balancer, say).
    pub quantity: u32,
    pub price: Price,
    pub note: Option<String>,
}

impl Line {
    pub fn monthly(&self) -> Option<Cents> {
        match self.price {
            Price::Monthly(c) => Some(c),
            _ => None,
        }
    }
}

/// The priced lines of a deployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cost {
    pub lines: Vec<Line>,
}

impl Cost {
    /// The sum of every priced line (lines of unknown price and storage billed by use left
    /// out).
    pub fn total(&self) -> Cents {
        self.lines.iter().filter_map(Line::monthly).sum()
    }

    /// The lines the table has no price for.
    pub fn unknown(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| l.price == Price::Unknown)
    }

    /// Per category: the units, and the sum of their priced lines.
    pub fn by_category(&self) -> BTreeMap<Category, (u32, Cents)> {
        let mut out: BTreeMap<Category, (u32, Cents)> = BTreeMap::new();
        for l in &self.lines {
            let e = out.entry(l.category).or_default();
            e.0 += l.quantity;
            e.1 = e.1 + l.monthly().unwrap_or_default();
        }
        out
    }
}

/// The cost of objects given as `(address, kind, inputs)`.
pub fn estimate<'a>(objects: impl IntoIterator<Item = (&'a str, Kind, &'a Inputs)>, table: &PriceTable) -> Cost {
    let mut lines = Vec::new();
    for (address, kind, inputs) in objects {
        price_object(address, kind, inputs, table, &mut lines);
    }
    Cost { lines }
}

/// The cost of every object of a graph, priced from its inputs.
pub fn of_graph(graph: &Graph, table: &PriceTable) -> Cost {
    let none = |_: crate::NodeId, _: &str| None;
    let priced: Vec<(String, Kind, Inputs)> = graph
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, n)| billed(n.kind))
        .map(|(i, n)| (n.address.to_string(), n.kind, crate::change::inputs(graph, crate::NodeId(i), &[], &none)))
        .collect();
    estimate(priced.iter().map(|(a, k, i)| (a.as_str(), *k, i)), table)
}

/// Whether AWS bills objects of this kind at all.
fn billed(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Instance | Kind::DbInstance | Kind::NatGateway | Kind::ElasticIp | Kind::LoadBalancer | Kind::FileSystem
    )
}

fn price_object(address: &str, kind: Kind, inputs: &Inputs, t: &PriceTable, lines: &mut Vec<Line>) {
    let get = |k: &str| inputs.get(k).map(String::as_str).unwrap_or_default();
    let unknown = |what: &str| Some(format!("price unknown: {what} is not in the {} table of {}", t.region, t.as_of));
    let mut line = |category, item: String, quantity, price: Option<Cents>, note: Option<String>| {
        let (price, note) = match price {
            Some(c) => (Price::Monthly(c), note),
            None => (Price::Unknown, note),
        };
        lines.push(Line { address: address.to_string(), category, item, quantity, price, note });
    };
    match kind {
        Kind::Instance => {
            let ty = get("instance_type");
            let price = t.ec2_hour.get(ty).map(|h| t.monthly(*h));
            let note = if price.is_none() { unknown(&format!("instance type `{ty}`")) } else { None };
            line(Category::Instances, ty.to_string(), 1, price, note);

            let volume = match get("root_volume_type") {
                "" => "gp3",
                v => v,
            };
            let (gb, note) = match get("root_size_gb").parse::<i64>() {
                Ok(gb) => (gb, None),
                Err(_) => {
                    (t.default_root_gb, Some(format!("the image's root volume: {} GB assumed", t.default_root_gb)))
                }
            };
            let price = t.ebs_gb_month.get(volume).map(|p| Cents::of(p * gb as f64));
            let note = if price.is_none() { unknown(&format!("volume type `{volume}`")) } else { note };
            line(Category::RootVolumes, format!("{gb} GB {volume}"), 1, price, note);

            // Every public IPv4 address is billed, an instance's auto-assigned one too
            // ("New – AWS Public IPv4 Address Charge", AWS News Blog, 2023-07-28).
            if get("public_ip") == "true" {
                let price = Some(t.monthly(t.public_ipv4_hour));
                line(Category::PublicIpv4, "public IPv4 of an instance".into(), 1, price, None);
            }
        }
        Kind::DbInstance => {
            let (class, engine) = (get("instance_class"), get("engine"));
            // Multi-AZ runs a standby: "Billed per DB instance-hour for both the primary and
            // standby instances", and storage "for both the primary and standby" (Amazon RDS
            // User Guide, "On-Demand DB instances for Amazon RDS").
            let copies = if get("multi_az") == "true" { 2.0 } else { 1.0 };
            let az = if copies > 1.0 { " Multi-AZ" } else { "" };
            let price = t.rds_hour.get(engine).and_then(|c| c.get(class)).map(|h| t.monthly(h * copies));
            let note = if price.is_none() { unknown(&format!("`{class}` for {engine}")) } else { None };
            line(Category::Databases, format!("{class} {engine}{az}"), 1, price, note);

            let storage = get("storage_type");
            let gb = get("storage_gb").parse::<i64>().ok();
            let price = match (gb, t.rds_storage_gb_month.get(storage)) {
                (Some(gb), Some(p)) => Some(Cents::of(p * gb as f64 * copies)),
                _ => None,
            };
            let note = if price.is_none() { unknown(&format!("RDS storage `{storage}`")) } else { None };
            let gb = gb.map_or_else(|| "?".to_string(), |g| g.to_string());
            line(Category::DatabaseStorage, format!("{gb} GB {storage}{az}"), 1, price, note);
        }
        Kind::NatGateway => {
            let price = Some(t.monthly(t.nat_gateway_hour));
            line(Category::NatGateways, "NAT gateway".into(), 1, price, None);
        }
        Kind::ElasticIp => {
            let price = Some(t.monthly(t.public_ipv4_hour));
            line(Category::PublicIpv4, "Elastic IP".into(), 1, price, None);
        }
        Kind::LoadBalancer => {
            let price = Some(t.monthly(t.load_balancer_hour));
            let note = Some("hourly charge only; LCUs and data not included".to_string());
            line(Category::LoadBalancers, "application load balancer".into(), 1, price, note);
            // An internet-facing load balancer has a public IPv4 address in each of its
            // zones, billed like any other (AWS News Blog, as above); it may add more as it
            // scales.
            if get("internet_facing") == "true" {
                let zones = get("subnets").split(',').filter(|s| !s.is_empty()).count() as u32;
                let price = Some(t.monthly(t.public_ipv4_hour * f64::from(zones)));
                let note = Some("one per zone at least".to_string());
                line(Category::PublicIpv4, "public IPv4 of a load balancer".into(), zones, price, note);
            }
        }
        Kind::FileSystem => lines.push(Line {
            address: address.to_string(),
            category: Category::FileSystems,
            item: "EFS Standard storage".into(),
            quantity: 1,
            price: Price::ByUse { per_gb_month: t.efs_standard_gb_month },
            note: Some(format!("storage billed by use: ${:.2} per GB-month", t.efs_standard_gb_month)),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_bundled_table_reads_and_is_dated() {
        let t = PriceTable::bundled().unwrap();
        assert_eq!(t.region, "us-east-1");
        assert_eq!(t.hours_per_month, 730.0);
        let date: Vec<&str> = t.as_of.split('-').collect();
        assert!(date.len() == 3 && date[0].len() == 4 && date.iter().all(|p| p.parse::<u32>().is_ok()), "{}", t.as_of);
        assert!(t.sources.iter().all(|s| s.starts_with("https://aws.amazon.com/")));
        for engine in ["mysql", "mariadb", "postgres"] {
            assert!(t.rds_hour.contains_key(engine), "{engine}");
        }
    }

    #[test]
    fn money_prints_grouped_and_signed() {
        assert_eq!(Cents(123456789).to_string(), "$1,234,567.89");
        assert_eq!(Cents(5).to_string(), "$0.05");
        assert_eq!(Cents(-1250).signed(), "-$12.50");
        assert_eq!(Cents(99900).signed(), "+$999.00");
        assert_eq!(Cents(0).signed(), "$0.00");
    }

    #[test]
    fn an_unknown_type_is_named_not_priced() {
        let t = PriceTable::bundled().unwrap();
        let i = inputs(&[("instance_type", "zz9.plural"), ("root_size_gb", "10"), ("root_volume_type", "gp3")]);
        let cost = estimate([("instance.x", Kind::Instance, &i)], t);
        let unknown: Vec<&Line> = cost.unknown().collect();
        assert_eq!(unknown.len(), 1);
        assert!(unknown[0].note.as_deref().unwrap().contains("zz9.plural"));
        // The root volume is still priced: 10 GB of gp3.
        assert_eq!(cost.total(), Cents::of(10.0 * t.ebs_gb_month["gp3"]));
    }

    #[test]
    fn multi_az_pays_instance_and_storage_twice() {
        let t = PriceTable::bundled().unwrap();
        let single = inputs(&[
            ("instance_class", "db.m5.large"),
            ("engine", "mysql"),
            ("storage_gb", "100"),
            ("storage_type", "gp3"),
            ("multi_az", "false"),
        ]);
        let mut multi = single.clone();
        multi.insert("multi_az".into(), "true".into());
        let one = estimate([("database.a", Kind::DbInstance, &single)], t).total();
        let two = estimate([("database.a", Kind::DbInstance, &multi)], t).total();
        assert_eq!(one, Cents::of(0.171 * 730.0) + Cents::of(100.0 * 0.115));
        assert_eq!(two, Cents::of(0.171 * 730.0 * 2.0) + Cents::of(100.0 * 0.115 * 2.0));
    }

    #[test]
    fn free_kinds_have_no_lines_and_a_file_system_is_billed_by_use() {
        let t = PriceTable::bundled().unwrap();
        let empty = Inputs::new();
        let cost = estimate([("vpc.main", Kind::Vpc, &empty), ("file_system.f", Kind::FileSystem, &empty)], t);
        assert_eq!(cost.lines.len(), 1);
        assert_eq!(cost.lines[0].price, Price::ByUse { per_gb_month: t.efs_standard_gb_month });
        assert_eq!(cost.total(), Cents(0));
    }
}
