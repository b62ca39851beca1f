//! The phrases records are made of: places, streets, people, and what residents, patrol teams and
//! mediators write, in the mix of Chinese and ASCII that real users type.
//!
//! Templates hold `{addr}` (a building), `{en}` (its English name), `{street}` / `{street_en}`,
//! `{n}` (a number) and `{cp}` (a checkpoint), filled in by the generator.

use fieldsync_core::model::{CaseCategory, EntryKind, MemberKind, ReportCategory};

pub(super) const COMMUNITIES: &[&str] =
    &["新华", "永昌", "红旗", "春华", "桂林", "朝阳", "和平", "长青", "锦绣", "东盛"];
pub(super) const STREETS: &[(&str, &str)] = &[
    ("人民大街", "Renmin Street"),
    ("自由大路", "Ziyou Road"),
    ("西安大路", "Xi'an Road"),
    ("长庆街", "Changqing Street"),
    ("同志街", "Tongzhi Street"),
    ("红旗街", "Hongqi Street"),
    ("延安大街", "Yan'an Street"),
    ("建设街", "Jianshe Street"),
];

/// Per category: title templates and description sentences.
pub(super) const REPORT_TEXT: &[(ReportCategory, &[&str], &[&str])] = &[
    (
        ReportCategory::IllegalConstruction,
        &[
            "{addr}屋顶违章搭建",
            "{addr}楼顶私搭彩钢房",
            "{addr}一楼院内违建扩建",
            "Rooftop shed at {en}",
        ],
        &[
            "屋顶违章搭建，约{n}平方米。",
            "业主在楼顶私搭彩钢房，影响楼下住户采光。",
            "施工队夜间仍在作业，疑似违章搭建。",
            "illegal rooftop extension, about {n} m2, built last weekend.",
        ],
    ),
    (
        ReportCategory::Sanitation,
        &[
            "{addr}垃圾堆放",
            "{addr}楼道垃圾长期未清理",
            "{street}路边垃圾桶满溢",
            "Garbage pile near {en}",
        ],
        &[
            "垃圾堆放多日无人清运，气味很大。",
            "化粪池外溢，污水流到人行道。",
            "楼道里堆满杂物和垃圾，存在消防隐患。",
            "overflowing bins, smells bad, {n} bags on the ground.",
        ],
    ),
    (
        ReportCategory::SafetyHazard,
        &[
            "{street}井盖缺失",
            "{addr}楼道电动车充电",
            "{addr}外墙瓷砖脱落",
            "Missing manhole cover on {street_en}",
        ],
        &[
            "井盖缺失，夜间行人容易踩空。",
            "有居民在楼道内给电动车飞线充电，很危险。",
            "外墙瓷砖脱落，砸坏了停在楼下的车。",
            "manhole cover missing for {n} days, a child almost fell in.",
        ],
    ),
    (
        ReportCategory::Noise,
        &[
            "{addr}广场舞噪音扰民",
            "{street}夜市噪音扰民",
            "{addr}装修噪音",
            "Late night karaoke at {en}",
        ],
        &[
            "晚上十点后广场舞音响仍然很大声，噪音扰民。",
            "装修电钻声从早上七点开始，持续{n}天。",
            "KTV 深夜噪音扰民，多次反映无果。",
            "loud music after 22:00 every night this week.",
        ],
    ),
    (
        ReportCategory::RoadFacilityDamage,
        &[
            "{street}路面塌陷",
            "{street}路灯不亮",
            "{addr}健身器材损坏",
            "Broken streetlight on {street_en}",
        ],
        &[
            "路面塌陷形成大坑，雨天积水约{n}厘米。",
            "这一段路灯不亮已经一周了，streetlight 全黑。",
            "小区健身器材螺丝松动，孩子玩耍有危险。",
            "the streetlight has been out for {n} nights.",
        ],
    ),
    (
        ReportCategory::Dispute,
        &["{addr}邻里停车纠纷", "{addr}楼上漏水纠纷", "{addr}宠物扰邻"],
        &[
            "邻居长期占用消防通道停车。",
            "楼上卫生间漏水，协商未果。",
            "狗狗夜间吠叫，邻里发生争执。",
            "parking dispute over space {n}, both sides called the police.",
        ],
    ),
    (
        ReportCategory::Other,
        &["{addr}共享单车乱停放", "{street}流浪猫聚集", "{addr}电梯故障"],
        &[
            "共享单车堆满人行道。",
            "电梯经常停运，老人上下楼困难。",
            "shared bikes block the entrance of block {n}.",
        ],
    ),
];
pub(super) const REPORT_EXTRA: &[&str] = &[
    "居民多次反映。",
    "请尽快处理。",
    "已拍照留证。",
    "附近有学校，学生上下学经过。",
    "WeChat 群里有人反映过。",
    "photo IMG_{n}.jpg attached.",
    "联系电话 139{n}。",
];
pub(super) const REPORT_COMMENTS: &[&str] = &[
    "已到现场查看，情况属实。",
    "网格员已联系业主。",
    "请物业配合处理。",
    "resident called again, still not fixed",
    "已转交城管中队。",
    "回访：居民表示满意。",
];

pub(super) const AREAS: &[&str] = &[
    "净月潭景区",
    "南湖公园",
    "长春公园",
    "北湖国家湿地公园",
    "伪满皇宫博物院",
    "莲花山滑雪场",
    "新立湖",
    "世界雕塑公园",
];
pub(super) const CHECKPOINTS: &[&str] = &[
    "北门",
    "南门",
    "东门",
    "游船码头",
    "观景台",
    "停车场",
    "索道站",
    "游客中心",
    "栈道入口",
    "east gate",
    "lake pier",
    "bus stop",
];
pub(super) const ENTRY_TEXT: &[(EntryKind, &[&str])] = &[
    (EntryKind::Observation, &["{cp}秩序正常", "游客较多，秩序良好", "all quiet at {cp}"]),
    (
        EntryKind::HazardFound,
        &[
            "发现栈道护栏松动",
            "{cp}附近有落石",
            "湖边冰面开裂，已设警示牌",
            "loose rock on the trail near {cp}",
        ],
    ),
    (
        EntryKind::Incident,
        &["两名游客发生口角，已劝离", "有人在景区内烧烤，已制止", "一辆电动车被盗，已报警"],
    ),
    (
        EntryKind::TouristHelped,
        &[
            "帮助走失儿童找到家长",
            "为游客指路并提供饮用水",
            "helped a tourist with a sprained ankle",
        ],
    ),
    (
        EntryKind::WarningIssued,
        &["提醒游客勿在湖边野泳", "劝阻游客攀爬护栏", "warned anglers at {cp}"],
    ),
];
pub(super) const PATROL_MEMBERS: &[(&str, &str, MemberKind)] = &[
    ("police-li", "李警官", MemberKind::Police),
    ("police-zhang", "张警官", MemberKind::Police),
    ("police-sun", "孙警官", MemberKind::Police),
    ("cadre-wang", "王书记", MemberKind::VillageCadre),
    ("cadre-zhou", "周主任", MemberKind::VillageCadre),
    ("vol-zhao", "赵大爷", MemberKind::VillagerVolunteer),
    ("vol-qian", "钱阿姨", MemberKind::VillagerVolunteer),
    ("vol-wu", "吴师傅", MemberKind::VillagerVolunteer),
];

pub(super) const PLACES: &[&str] = &[
    "新华社区调解室",
    "永昌派出所调解室",
    "净月潭游客中心",
    "南湖公园管理处",
    "红旗街司法所",
    "朝阳区人民调解中心",
];
pub(super) const SURNAMES: &[&str] =
    &["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "孙", "马", "朱", "胡", "郭"];
pub(super) const GIVEN: &[&str] =
    &["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "杰", "涛", "桂英"];
pub(super) const ROLES: &[&str] =
    &["游客", "tourist", "店主", "boat operator", "业主", "租户", "物业", "邻居"];
pub(super) const CASE_NOTES: &[(CaseCategory, &[&str])] = &[
    (
        CaseCategory::Tourist,
        &[
            "游客称船票多收了{n}元，经营者表示是旺季价格。",
            "查看了售票记录和监控。",
            "tourist asks for a refund of {n} yuan.",
        ],
    ),
    (
        CaseCategory::Neighbour,
        &[
            "楼上漏水导致楼下天花板发霉，双方对赔偿金额有分歧。",
            "因停车位发生争执，已调取物业记录。",
        ],
    ),
    (CaseCategory::Family, &["兄弟二人因赡养老人费用分摊产生矛盾。", "母亲希望两人各出{n}元。"]),
    (CaseCategory::Property, &["物业费争议，业主认为服务不到位。", "业主拖欠物业费{n}个月。"]),
    (CaseCategory::Labour, &["工人反映装修公司拖欠工资{n}元。", "公司负责人称工程尚未验收。"]),
    (CaseCategory::Other, &["双方因琐事发生口角。", "parties argued over a shared fence."]),
];
pub(super) const NOTES_COMMON: &[&str] = &[
    "双方到场，情绪平稳。",
    "当事人同意先冷静处理。",
    "下次调解约在周五上午。",
    "both parties signed the record.",
];
pub(super) const AGREEMENTS: &[&str] = &[
    "经调解，双方同意赔偿{n}元，当场履行。",
    "退还船票{n}元，游客表示满意。",
    "双方达成协议，互相谅解，不再追究。",
];

/// What residents say in a deliberation's discussion.
pub(super) const DELIBERATION_COMMENTS: &[&str] = &[
    "支持，晚上回来经常没地方停车",
    "划线以后外来车辆怎么管？",
    "建议先在{addr}试点一个月",
    "费用怎么分摊要说清楚",
    "老人多，电梯比车位更急",
    "同意，但要留出消防通道",
];
