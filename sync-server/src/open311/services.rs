//! Our report categories as GeoReport v2 services: `service_code` is the category's string
//! (`illegal_construction`), the name is given in Chinese and English, no service has extra
//! attributes (`metadata` false) and every one is answered at once (`type` realtime).

use fieldsync_core::model::ReportCategory;

use super::Open311Error;

/// A service as the spec's service list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The category.
    pub category: ReportCategory,
    /// `service_code`: the category's string.
    pub code: &'static str,
    /// `service_name`: Chinese, then English.
    pub name: &'static str,
    /// `description`.
    pub description: &'static str,
    /// `keywords`, comma separated.
    pub keywords: &'static str,
    /// `group`.
    pub group: &'static str,
}

impl Service {
    /// The service of a category.
    pub fn of(category: ReportCategory) -> Service {
        let (name, description, keywords, group) = match category {
            ReportCategory::IllegalConstruction => (
                "违法建设 / Illegal construction",
                "A building or structure put up without permission, e.g. on a roof top.",
                "违建, 违章搭建, illegal building, construction",
                "urban_management",
            ),
            ReportCategory::Sanitation => (
                "环境卫生 / Sanitation",
                "Rubbish, sewage or other sanitation problems in a public place.",
                "垃圾, 污水, rubbish, sewage, litter",
                "environment",
            ),
            ReportCategory::SafetyHazard => (
                "安全隐患 / Safety hazard",
                "Something that may hurt people: fire risk, loose structures, open holes.",
                "隐患, 消防, hazard, fire, danger",
                "safety",
            ),
            ReportCategory::Noise => (
                "噪声扰民 / Noise",
                "Noise that disturbs residents.",
                "噪音, 扰民, noise",
                "environment",
            ),
            ReportCategory::RoadFacilityDamage => (
                "道路设施损坏 / Road or facility damage",
                "Damage to a road, a street light or another public facility.",
                "道路, 路灯, 井盖, road, street light, manhole",
                "infrastructure",
            ),
            ReportCategory::Dispute => (
                "矛盾纠纷 / Dispute",
                "A dispute between people that needs the community's help.",
                "纠纷, 调解, dispute, mediation",
                "community",
            ),
            ReportCategory::Other => {
                ("其他 / Other", "Any other problem in the neighbourhood.", "其他, other", "other")
            }
        };
        Service { category, code: category.as_str(), name, description, keywords, group }
    }
}

/// Every service, in the categories' order.
pub fn services() -> Vec<Service> {
    ReportCategory::ALL.iter().map(|c| Service::of(*c)).collect()
}

/// The service with this code.
pub fn service(code: &str) -> Result<Service, Open311Error> {
    code.parse::<ReportCategory>()
        .map(Service::of)
        .map_err(|_| Open311Error::UnknownService(code.chars().take(40).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_is_a_service_found_by_its_code() {
        let all = services();
        assert_eq!(all.len(), ReportCategory::ALL.len());
        for s in &all {
            assert_eq!(service(s.code).unwrap(), *s);
            assert!(!s.name.is_empty() && !s.description.is_empty() && !s.group.is_empty());
        }
        assert!(matches!(service("roof"), Err(Open311Error::UnknownService(_))));
    }
}
