//! The inventory of one simulated host: its columns, its reports (metadata only; pages are
//! rendered on demand from seeds) and the per-host mutable state the faults need.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::{Family, HostInfo, HostSpec, Layout, ReportKind, Shell, TruthReport};
use crate::model::Format;
use crate::synth::{self, SynthReport};

/// Department names for generated agencies (after the 本级 government).
const DEPTS: [&str; 30] = [
    "发展和改革委员会",
    "教育局",
    "科学技术局",
    "工业和信息化局",
    "公安局",
    "民政局",
    "司法局",
    "财政局",
    "人力资源和社会保障局",
    "自然资源局",
    "生态环境局",
    "住房和城乡建设局",
    "交通运输局",
    "水务局",
    "农业农村局",
    "商务局",
    "文化广电旅游局",
    "卫生健康委员会",
    "退役军人事务局",
    "应急管理局",
    "审计局",
    "市场监督管理局",
    "统计局",
    "医疗保障局",
    "城市管理局",
    "体育局",
    "林业局",
    "信访局",
    "政务服务数据管理局",
    "机关事务管理局",
];
const STREET_A: [&str; 10] = ["东", "西", "南", "北", "中", "新", "青", "云", "石", "柳"];
const STREET_B: [&str; 10] = ["湖", "山", "桥", "门", "塘", "岭", "河", "坊", "园", "林"];
const CITY_A: [&str; 12] = [
    "临", "安", "永", "宁", "清", "平", "长", "丰", "兴", "嘉", "泰", "金",
];
const CITY_B: [&str; 12] = [
    "江", "川", "阳", "源", "溪", "远", "乐", "和", "城", "山", "水", "华",
];

/// A listing column.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    /// Directory path, ending with `/` (Hanweb: `/col/colN/`).
    pub path: String,
    pub title: String,
    /// Hanweb column id.
    pub col_id: u64,
    pub children: Vec<usize>,
    /// What this column lists.
    pub key: ColumnKey,
}

/// Which reports a column lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnKey {
    Root,
    Year(i32),
    Dept,
    Street,
    Recent,
    /// 集约化 platform: one column per agency (organId).
    Org(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct ReportMeta {
    pub id: u64,
    pub seed: u64,
    pub year: i32,
    pub agency: String,
    pub kind: ReportKind,
    pub date: (i32, u32, u32),
    pub column: usize,
    pub path: String,
    pub hex: String,
    /// Where the PDF is served.
    pub pdf_path: String,
    /// Title variant (0: canonical), see [`ReportMeta::title`].
    pub variant: u8,
    /// A non-report article listed in the column (指南, 工作要点, 通知): not in the truth.
    pub noise: bool,
    /// Published with a wrong total (see `HostSpec::inconsistent_every`).
    pub inconsistent: bool,
    /// Number of pages the article is split into (1: not split; TRS `_1`, `_2` parts).
    pub parts: u8,
}

impl ReportMeta {
    pub fn format(&self) -> Format {
        if self.year < 2019 {
            Format::Legacy
        } else if self.year >= 2021 {
            Format::F2021
        } else {
            Format::F2019
        }
    }

    pub fn synth(&self) -> SynthReport {
        if self.format() == Format::Legacy {
            return SynthReport {
                agency: self.agency.clone(),
                year: self.year,
                format: Format::Legacy,
                values: Vec::new(),
            };
        }
        let mut r = synth::consistent(self.format(), self.year, &self.agency, self.seed);
        if self.seed.is_multiple_of(3) && !self.inconsistent {
            // A third of the agencies leave zero cells blank. Not the inconsistent ones: a
            // wrong total over blank addends would make the checks `skipped`, not failed.
            r = r.with_blank_zeros(self.seed);
        }
        if self.inconsistent {
            let key = "requests.total_handled.total";
            let wrong = r.expected_value(key).unwrap_or(0.0) as i64 + 1;
            r.set(key, &wrong.to_string());
        }
        r
    }

    /// Title as listed and printed. Variants (portals.md §6.7): agency first without 工作,
    /// full-width year, missing year, （超链版）; image-only reports end in （图片版）.
    pub fn title(&self) -> String {
        let (y, a) = (self.year, &self.agency);
        if self.noise {
            return match self.id % 3 {
                0 => format!("{a}政府信息公开指南"),
                1 => format!("{a}{y}年政务公开工作要点"),
                _ => format!("{a}关于开展政府信息公开自查工作的通知"),
            };
        }
        let t = match self.variant {
            1 => format!("{a}{y}年政府信息公开年度报告"),
            2 => {
                let wide: String = y
                    .to_string()
                    .chars()
                    .filter_map(|c| c.to_digit(10))
                    .filter_map(|d| char::from_u32(0xFF10 + d))
                    .collect();
                format!("{wide}年{a}政府信息公开工作年度报告")
            }
            3 => format!("{a}年政府信息公开工作年度报告"),
            4 => format!("{y}年{a}政府信息公开工作年度报告（超链版）"),
            _ => format!("{y}年{a}政府信息公开工作年度报告"),
        };
        if self.kind == ReportKind::ImageOnly {
            format!("{t}（图片版）")
        } else {
            t
        }
    }

    /// The older address of an article (F-MOVED): `old/` before the file name.
    pub fn old_path(&self) -> String {
        match self.path.rsplit_once('/') {
            Some((dir, file)) => format!("{dir}/old/{file}"),
            None => self.path.clone(),
        }
    }

    /// Path of part `k` of a split article (`t…_ID_1.html`); part 0 is the article itself.
    pub fn part_path(&self, k: u8) -> String {
        match (k, self.path.strip_suffix(".html")) {
            (0, _) | (_, None) => self.path.clone(),
            (k, Some(stem)) => format!("{stem}_{k}.html"),
        }
    }

    pub fn published(&self) -> String {
        format!("{}-{:02}-{:02}", self.date.0, self.date.1, self.date.2)
    }

    /// Path (and query) of the attachment link in the stub: Hanweb's `downfile.jsp` (a 302),
    /// the PDF itself elsewhere.
    pub fn attachment_link(&self) -> String {
        if self.pdf_path.starts_with("/attach/0/") {
            format!(
                "/module/download/downfile.jsp?classid=0&filename={}.pdf",
                self.hex
            )
        } else {
            self.pdf_path.clone()
        }
    }

    /// The href as the stub writes it: TRS and gov.cn stubs link `./P0….pdf` next to the
    /// article.
    pub fn attachment_href(&self) -> String {
        let link = self.attachment_link();
        match (link.rsplit_once('/'), self.path.rsplit_once('/')) {
            (Some((dir, file)), Some((article_dir, _))) if dir == article_dir => {
                format!("./{file}")
            }
            _ => link,
        }
    }
}

/// Mutable state of a host.
pub(crate) struct HostState {
    pub columns: Vec<Column>,
    pub reports: Vec<ReportMeta>,
    /// Article path → report index.
    pub by_path: HashMap<String, usize>,
    /// Attachment hex → report index (Hanweb `downfile.jsp`).
    pub by_hex: HashMap<String, usize>,
    /// PDF path → report index.
    pub pdfs: HashMap<String, usize>,
    /// Path of part k ≥ 1 of a split article → (report index, k).
    pub part_paths: HashMap<String, (usize, u8)>,
    pub listing_modified: SystemTime,
    pub added: usize,
    pub path_hits: HashMap<String, u32>,
    pub window: VecDeque<Instant>,
    /// How many times the site was reorganised ([`Host::drift`]).
    pub epoch: u32,
    /// Years passed to `add_report`, replayed after a drift.
    pub added_years: Vec<i32>,
    /// Column paths of earlier epochs: 301 to the home page.
    pub moved: Vec<String>,
}

/// One simulated host: immutable spec plus locked state.
pub(crate) struct Host {
    pub spec: HostSpec,
    pub base: String,
    /// The 集约化 organ host's name and base URL (see [`super::OrganHost`]).
    pub organ: Option<(String, String)>,
    pub city: String,
    pub state: Mutex<HostState>,
}

/// A resolved request, owned, so rendering happens outside the lock.
pub(crate) enum Resource {
    Listing {
        column: Column,
        /// 0-based page; `None` for a page past the end.
        page: Option<usize>,
        pages: usize,
        items: Vec<ReportMeta>,
        children: Vec<Column>,
    },
    Hanweb {
        column: Column,
        items: Vec<ReportMeta>,
        children: Vec<Column>,
        total: usize,
    },
    DataProxy {
        items: Vec<ReportMeta>,
        total: usize,
        per_page: usize,
        /// The requested range lies past the end.
        past_end: bool,
    },
    /// A report page, or part k ≥ 1 of a split article.
    Report(Box<ReportMeta>, u8),
    Redirect(String),
    /// A path of an earlier epoch's column: 301 to the home page.
    Moved,
    /// The site's home page, linking the annual-report column (its entry path).
    Home(String),
    /// 集约化 agency navigation: one column per agency.
    JiyueNav(Vec<Column>),
    /// 集约化 listing: a whole column page, or (`fragment`) the AJAX label HTML.
    JiyueList {
        column: Column,
        items: Vec<ReportMeta>,
        pages: usize,
        fragment: bool,
    },
    /// gkmlpt SPA shell: every column with its post count.
    GkmlptShell(Vec<(Column, usize)>),
    /// gkmlpt listing JSON (`column` is `None` for a category without reports).
    GkmlptApi {
        column: Option<Column>,
        items: Vec<ReportMeta>,
        total: usize,
    },
    Pdf(Box<ReportMeta>),
    Image,
    Shell(Shell, String),
    NotFound,
}

fn mix(a: u64, b: u64) -> u64 {
    let mut r = crate::synth::Rng::new(a ^ b.wrapping_mul(0x2545_F491_4F6C_DD1D));
    r.next_u64()
}

fn city_name(spec: &HostSpec) -> String {
    let s = spec.seed as usize;
    let mut name = format!(
        "{}{}",
        CITY_A[s % CITY_A.len()],
        CITY_B[(s / CITY_A.len()) % CITY_B.len()]
    );
    if spec.charset.is_gbk() {
        // Characters outside GB2312 (but inside GBK) catch decoders that stop at GB2312.
        name = format!("堃镕{name}");
    }
    format!("{name}市")
}

fn agency_name(city: &str, j: usize) -> String {
    if j == 0 {
        return format!("{city}人民政府");
    }
    if j <= DEPTS.len() {
        return format!("{city}{}", DEPTS[j - 1]);
    }
    let k = j - DEPTS.len() - 1;
    let base = format!(
        "{city}{}{}街道办事处",
        STREET_A[(k / 10) % 10],
        STREET_B[k % 10]
    );
    if k < 100 {
        base
    } else {
        format!("{base}第{}分处", k / 100 + 1)
    }
}

impl Host {
    pub fn new(spec: HostSpec, base: String) -> Host {
        let city = city_name(&spec);
        let state = fresh_state(&spec, 0);
        let host = Host {
            spec,
            base,
            organ: None,
            city,
            state: Mutex::new(state),
        };
        if let Ok(mut st) = host.state.lock() {
            host.populate(&mut st);
        }
        host
    }

    /// Reorganises the site (F-DRIFT): every column and article moves under a new root, the
    /// old column paths answer 301 to the home page, old article paths 404. Reports added so
    /// far are kept. Returns the new entry URL.
    pub fn drift(&self) -> String {
        if let Ok(mut st) = self.state.lock() {
            let mut next = fresh_state(&self.spec, st.epoch + 1);
            self.populate(&mut next);
            for year in st.added_years.clone() {
                self.add_into(&mut next, year);
            }
            next.moved = std::mem::take(&mut st.moved);
            next.moved.extend(st.columns.iter().map(|c| c.path.clone()));
            next.path_hits = std::mem::take(&mut st.path_hits);
            next.window = std::mem::take(&mut st.window);
            next.listing_modified = SystemTime::now();
            *st = next;
        }
        format!("{}{}", self.base, self.entry_path())
    }

    fn populate(&self, st: &mut HostState) {
        let years = (self.spec.last_year - self.spec.first_year + 1).max(1) as usize;
        if self.spec.layout == Layout::DeptColumns {
            self.child_column(st, ColumnKey::Dept);
            self.child_column(st, ColumnKey::Street);
        }
        if self.spec.faults.duplicate_listings && self.spec.layout == Layout::Flat {
            self.child_column(st, ColumnKey::Recent);
        }
        let mut noise = 0;
        for i in 0..self.spec.reports {
            let j = i / years;
            let year = self.spec.last_year - (i % years) as i32;
            let day = 10 + (mix(self.spec.seed, i as u64) % 19) as u32;
            self.push_report(st, i, j, year, (year + 1, 1, day), false);
            let n = self.spec.noise_every;
            if n > 0 && i % n == n - 1 {
                self.push_report(st, noise, j, year, (year + 1, 2, day), true);
                noise += 1;
            }
        }
    }

    fn kind_of(&self, i: usize, year: i32) -> ReportKind {
        let every = |n: usize| n > 0 && i % n == n - 1;
        if year < 2019 {
            // Legacy reports are plain HTML pages with free-form tables.
            ReportKind::Html
        } else if every(self.spec.image_every) {
            ReportKind::ImageOnly
        } else if every(self.spec.attachment_every) {
            ReportKind::AttachmentOnly
        } else {
            ReportKind::Html
        }
    }

    /// Publishes report number `i` (or notice number `i` when `noise`) for an agency and year.
    fn push_report(
        &self,
        st: &mut HostState,
        i: usize,
        agency_idx: usize,
        year: i32,
        date: (i32, u32, u32),
        noise: bool,
    ) {
        // Notices get their own seed and id ranges so adding them never changes a report.
        let (seed_base, id_base) = if noise {
            (9_000_017, 8_800_000)
        } else {
            (1_000_003, 3_300_000)
        };
        let seed = mix(self.spec.seed, seed_base + i as u64);
        let id = id_base + (i as u64) * 7 + self.spec.seed % 5;
        let column = self.column_for(st, year, agency_idx);
        let path = self.article_path(st, column, id, date);
        let hex = format!("{:016x}{:016x}", seed, mix(seed, 7));
        let pdf_path = self.pdf_path(&path, &hex, seed, date);
        let kind = if noise {
            ReportKind::Html
        } else {
            self.kind_of(i, year)
        };
        let every = |n: usize| n > 0 && i % n == n - 1;
        let plain = !noise && kind == ReportKind::Html && year >= 2019;
        let stub = !noise && kind == ReportKind::AttachmentOnly;
        let split = (plain || stub)
            && matches!(self.spec.family, Family::Trs | Family::TrsOneBased)
            && every(self.spec.multipage_every);
        let meta = ReportMeta {
            id,
            seed,
            year,
            agency: agency_name(&self.city, agency_idx),
            kind,
            date,
            column,
            path: path.clone(),
            hex: hex.clone(),
            pdf_path: pdf_path.clone(),
            variant: self.title_variant(i),
            noise,
            inconsistent: plain && every(self.spec.inconsistent_every),
            parts: match (split, stub) {
                (false, _) => 1,
                (true, true) => 2,
                (true, false) => 3,
            },
        };
        let idx = st.reports.len();
        for k in 1..meta.parts {
            st.part_paths.insert(meta.part_path(k), (idx, k));
        }
        st.by_path.insert(path, idx);
        st.by_hex.insert(hex, idx);
        st.pdfs.insert(pdf_path, idx);
        st.reports.push(meta);
    }

    fn title_variant(&self, i: usize) -> u8 {
        if !self.spec.title_variants {
            return 0;
        }
        match i % 10 {
            3 => 1,
            5 => 2,
            7 => 3,
            9 => 4,
            _ => 0,
        }
    }

    /// The article URL path in the family's scheme.
    fn article_path(
        &self,
        st: &HostState,
        column: usize,
        id: u64,
        date: (i32, u32, u32),
    ) -> String {
        let col = &st.columns[column];
        let (y, m, d) = date;
        match self.spec.family {
            Family::Trs | Family::TrsOneBased => {
                format!("{}{y}{m:02}/t{y}{m:02}{d:02}_{id}.html", col.path)
            }
            Family::Hanweb => format!("/art/{y}/{m}/{d}/art_{}_{id}.html", col.col_id),
            Family::GovCn => {
                // Articles live beside the column directory (`…/zfxxgk/ndbg/` → `…/zfxxgk/`).
                let root = &st.columns[0].path;
                let parent = root
                    .trim_end_matches('/')
                    .rsplit_once('/')
                    .map_or("", |(p, _)| p);
                format!("{parent}/{y}{m:02}/content_{id}.htm")
            }
            Family::Jiyue => format!("/public/{}/{}.html", col.col_id, id + 550_000_000),
            Family::Gkmlpt => {
                let post = id + 1_300_000;
                format!(
                    "/gkmlpt/content/{}/{}/post_{post}.html",
                    post / 1_000_000,
                    post / 1000
                )
            }
        }
    }

    /// Where an attachment is served: `P0YYYYMMDD….pdf` beside the article (TRS, gov.cn,
    /// gkmlpt) or Hanweb's `/attach/0/<hex>.pdf` behind `downfile.jsp`.
    fn pdf_path(&self, article: &str, hex: &str, seed: u64, date: (i32, u32, u32)) -> String {
        let (y, m, d) = date;
        match article.rsplit_once('/') {
            Some((dir, _)) if self.spec.family != Family::Hanweb => format!(
                "{dir}/P0{y}{m:02}{d:02}{:012}.pdf",
                mix(seed, 11) % 1_000_000_000_000
            ),
            _ => format!("/attach/0/{hex}.pdf"),
        }
    }

    /// The column a report belongs in, created on first use.
    fn column_for(&self, st: &mut HostState, year: i32, agency_idx: usize) -> usize {
        let key = match self.spec.layout {
            _ if self.spec.family == Family::Jiyue => ColumnKey::Org(agency_idx),
            Layout::Flat => return 0,
            Layout::YearColumns => ColumnKey::Year(year),
            Layout::DeptColumns if agency_idx == 0 => return 0,
            Layout::DeptColumns if agency_idx % 2 == 1 => ColumnKey::Dept,
            Layout::DeptColumns => ColumnKey::Street,
        };
        if let Some(i) = st.columns.iter().position(|c| c.key == key) {
            return i;
        }
        self.child_column(st, key)
    }

    fn child_column(&self, st: &mut HostState, key: ColumnKey) -> usize {
        let root = st.columns[0].clone();
        let (dir, title) = match &key {
            ColumnKey::Year(y) => (format!("{y}n"), format!("{y}年度")),
            ColumnKey::Dept => ("bmnb".to_string(), "部门年报".to_string()),
            ColumnKey::Street => ("jdnb".to_string(), "街镇年报".to_string()),
            ColumnKey::Recent => ("zxgk".to_string(), "最新公开".to_string()),
            ColumnKey::Org(j) => (String::new(), agency_name(&self.city, *j)),
            ColumnKey::Root => (String::new(), root.title.clone()),
        };
        let col_id = match key {
            ColumnKey::Org(j) => JIYUE_ORG_BASE + j as u64,
            _ => root.col_id + st.columns.len() as u64,
        };
        let path = match self.spec.family {
            Family::Hanweb => format!("/col/col{col_id}/"),
            Family::Jiyue => format!("/public/column/{col_id}"),
            _ => format!("{}{dir}/", root.path),
        };
        st.columns.push(Column {
            path,
            title,
            col_id,
            children: Vec::new(),
            key,
        });
        let idx = st.columns.len() - 1;
        st.columns[0].children.push(idx);
        idx
    }

    /// Report indices a column lists, newest first.
    fn listed(&self, st: &HostState, column: usize) -> Vec<usize> {
        let col = &st.columns[column];
        let dup = self.spec.faults.duplicate_listings;
        let mut idx: Vec<usize> = match col.key {
            ColumnKey::Recent => (0..st.reports.len()).collect(),
            ColumnKey::Root if dup => (0..st.reports.len()).collect(),
            _ => (0..st.reports.len())
                .filter(|&i| st.reports[i].column == column)
                .collect(),
        };
        idx.sort_by(|&a, &b| {
            let (ra, rb) = (&st.reports[a], &st.reports[b]);
            rb.date.cmp(&ra.date).then(rb.id.cmp(&ra.id))
        });
        if col.key == ColumnKey::Recent {
            idx.truncate(10);
        }
        idx
    }

    /// Whether a gkmlpt column is a jump category (see [`HostSpec::gkmlpt_jump`]): listed on
    /// its own HTML column page, not through the API.
    pub fn is_jump(&self, col: &Column) -> bool {
        self.spec.gkmlpt_jump && self.spec.family == Family::Gkmlpt && col.key == ColumnKey::Street
    }

    pub fn entry_path(&self) -> String {
        match self.state.lock() {
            Ok(st) => self.entry_path_for(&st.columns[0]),
            Err(_) => self.entry_path_for(&root_column(&self.spec, 0)),
        }
    }

    /// The entry path given the current root column (callers may already hold the lock).
    fn entry_path_for(&self, root: &Column) -> String {
        if self.spec.faults.shell_entry.is_some() {
            return "/xxgk/index.html".to_string();
        }
        let root = root.clone();
        match self.spec.family {
            Family::Trs | Family::TrsOneBased => root.path,
            Family::Hanweb => format!("{}index.html", root.path),
            Family::GovCn => format!("{}index.htm", root.path),
            Family::Gkmlpt => "/gkmlpt/annualreport".to_string(),
            Family::Jiyue => JIYUE_NAV.to_string(),
        }
    }

    /// The organId a 集约化 request is about: from the column path, the label URL's
    /// `organId`, or the article (and attachment) path `/public/{organId}/…`.
    fn organ_of(path: &str, query: &HashMap<String, String>) -> Option<u64> {
        let id = if let Some(rest) = path.strip_prefix("/public/column/") {
            rest
        } else if path == "/site/label/8888" {
            query.get("organId")?.as_str()
        } else {
            path.strip_prefix("/public/")?.split_once('/')?.0
        };
        id.trim().parse().ok()
    }

    /// Whether an organ's column and articles live on the organ host.
    fn on_organ_host(&self, organ_id: u64) -> bool {
        let Some(o) = self
            .spec
            .organ_host
            .as_ref()
            .filter(|_| self.organ.is_some())
        else {
            return false;
        };
        let j = organ_id.saturating_sub(JIYUE_ORG_BASE) as usize;
        o.every > 0 && j % o.every == o.every - 1
    }

    /// The base URL a path is served under: the organ host's for its organs' paths.
    pub fn base_for(&self, path: &str) -> &str {
        match &self.organ {
            Some((_, base))
                if Self::organ_of(path, &HashMap::new()).is_some_and(|o| self.on_organ_host(o)) =>
            {
                base
            }
            _ => &self.base,
        }
    }

    /// Whether the host (`organ`: its organ host) serves a request; images are served by both.
    pub fn serves(&self, organ: bool, path: &str, query: &HashMap<String, String>) -> bool {
        if self.organ.is_none() || path.starts_with("/attach/img/") {
            return !organ || self.organ.is_some();
        }
        match Self::organ_of(path, query) {
            Some(o) => self.on_organ_host(o) == organ,
            None => !organ,
        }
    }

    pub fn info(&self) -> HostInfo {
        HostInfo {
            name: self.spec.name.clone(),
            family: self.spec.family,
            base_url: self.base.clone(),
            entry_url: format!("{}{}", self.base, self.entry_path()),
        }
    }

    fn column_url(&self, col: &Column) -> String {
        match self.spec.family {
            Family::Trs | Family::TrsOneBased => format!("{}{}", self.base, col.path),
            Family::Hanweb => format!("{}{}index.html", self.base, col.path),
            Family::GovCn => format!("{}{}index.htm", self.base, col.path),
            Family::Gkmlpt if self.is_jump(col) => format!("{}{}index.htm", self.base, col.path),
            Family::Gkmlpt => format!(
                "{}/gkmlpt/api/all/{}?page=1&sid={GKMLPT_SID}",
                self.base, col.col_id
            ),
            Family::Jiyue if col.key == ColumnKey::Root => format!("{}{JIYUE_NAV}", self.base),
            Family::Jiyue => format!(
                "{}{}?type=4&catId={JIYUE_CAT}&action=list&nav=3",
                self.base_for(&col.path),
                col.path
            ),
        }
    }

    pub fn truth(&self) -> Vec<TruthReport> {
        let Ok(st) = self.state.lock() else {
            return Vec::new();
        };
        let mut listed_in: Vec<Vec<String>> = vec![Vec::new(); st.reports.len()];
        for c in 0..st.columns.len() {
            let url = self.column_url(&st.columns[c]);
            for i in self.listed(&st, c) {
                listed_in[i].push(url.clone());
            }
        }
        let mut order: Vec<usize> = (0..st.reports.len())
            .filter(|&i| !st.reports[i].noise)
            .collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&st.reports[a], &st.reports[b]);
            rb.date.cmp(&ra.date).then(rb.id.cmp(&ra.id))
        });
        order
            .into_iter()
            .map(|i| self.truth_of(&st.reports[i], std::mem::take(&mut listed_in[i])))
            .collect()
    }

    pub fn report_urls(&self) -> Vec<String> {
        let Ok(st) = self.state.lock() else {
            return Vec::new();
        };
        let mut order: Vec<&ReportMeta> = st.reports.iter().filter(|r| !r.noise).collect();
        order.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
        order
            .into_iter()
            .map(|r| format!("{}{}", self.base_for(&r.path), r.path))
            .collect()
    }

    fn truth_of(&self, r: &ReportMeta, listed_in: Vec<String>) -> TruthReport {
        let attachment = r.kind == ReportKind::AttachmentOnly;
        let base = self.base_for(&r.path);
        TruthReport {
            url: format!("{base}{}", r.path),
            kind: r.kind,
            report: r.synth(),
            consistent: !r.inconsistent,
            parts: (0..r.parts)
                .map(|k| format!("{base}{}", r.part_path(k)))
                .collect(),
            title: r.title(),
            published: r.published(),
            attachment_link: attachment.then(|| format!("{base}{}", r.attachment_link())),
            attachment_url: attachment.then(|| format!("{base}{}", r.pdf_path)),
            listed_in,
            gbk: self.spec.charset.is_gbk(),
        }
    }

    pub fn add_report(&self, year: i32) -> TruthReport {
        let Ok(mut st) = self.state.lock() else {
            // A poisoned lock means a panic elsewhere; report nothing rather than panic again.
            return self.truth_of(&self.placeholder(year), Vec::new());
        };
        let idx = self.add_into(&mut st, year);
        st.added_years.push(year);
        st.listing_modified = SystemTime::now();
        let meta = st.reports[idx].clone();
        drop(st);
        let url = format!("{}{}", self.base_for(&meta.path), meta.path);
        self.truth()
            .into_iter()
            .find(|t| t.url == url)
            .unwrap_or_else(|| self.truth_of(&meta, Vec::new()))
    }

    /// Publishes one more report (a new agency) into `st`; returns its index.
    fn add_into(&self, st: &mut HostState, year: i32) -> usize {
        let idx = st.reports.len();
        let years = (self.spec.last_year - self.spec.first_year + 1).max(1) as usize;
        let agencies = self.spec.reports.div_ceil(years);
        let j = agencies + st.added;
        st.added += 1;
        let day = (st.added as u32 % 27) + 1;
        let i = st.reports.iter().filter(|r| !r.noise).count();
        self.push_report(st, i, j, year, (year + 1, 4, day), false);
        idx
    }

    fn placeholder(&self, year: i32) -> ReportMeta {
        ReportMeta {
            id: 0,
            seed: 0,
            year,
            agency: self.city.clone(),
            kind: ReportKind::Html,
            date: (year + 1, 1, 1),
            column: 0,
            path: String::new(),
            hex: String::new(),
            pdf_path: String::new(),
            variant: 0,
            noise: false,
            inconsistent: false,
            parts: 1,
        }
    }

    /// Maps a request to a resource. `form` holds POST form fields (Hanweb dataproxy).
    pub fn resolve(&self, path: &str, query: &HashMap<String, String>) -> Resource {
        let Ok(st) = self.state.lock() else {
            return Resource::NotFound;
        };
        if let Some(shell) = self.spec.faults.shell_entry
            && (path == "/xxgk/" || path == "/xxgk/index.html")
        {
            let root = st.columns[0].clone();
            let target = match self.spec.family {
                Family::Trs | Family::TrsOneBased => format!("..{}", root.path),
                Family::Hanweb => format!("{}index.html", root.path),
                Family::GovCn => format!("..{}index.htm", root.path),
                Family::Gkmlpt => "/gkmlpt/annualreport".to_string(),
                Family::Jiyue => JIYUE_NAV.to_string(),
            };
            return Resource::Shell(shell, target);
        }
        if matches!(path, "/" | "/index.html" | "/index.htm" | "/index.shtml") {
            return Resource::Home(self.entry_path_for(&st.columns[0]));
        }
        if let Some(&i) = st.by_path.get(path) {
            return Resource::Report(Box::new(st.reports[i].clone()), 0);
        }
        if let Some(&(i, k)) = st.part_paths.get(path) {
            return Resource::Report(Box::new(st.reports[i].clone()), k);
        }
        if self.spec.faults.moved_articles
            && let Some(now) = current_path(path)
            && st.by_path.contains_key(&now)
        {
            return Resource::Redirect(now);
        }
        if path == "/module/download/downfile.jsp" {
            let hex = query
                .get("filename")
                .map(|f| f.trim_end_matches(".pdf").to_string())
                .unwrap_or_default();
            return match st.by_hex.get(&hex) {
                Some(&i) => Resource::Redirect(st.reports[i].pdf_path.clone()),
                None => Resource::NotFound,
            };
        }
        if let Some(&i) = st.pdfs.get(path) {
            return Resource::Pdf(Box::new(st.reports[i].clone()));
        }
        if path.starts_with("/attach/img/") && path.ends_with(".png") {
            return Resource::Image;
        }
        if st.moved.iter().any(|m| path.starts_with(m.as_str()))
            && !st.columns.iter().any(|c| path.starts_with(c.path.as_str()))
        {
            return Resource::Moved;
        }
        match self.spec.family {
            Family::Hanweb => self.resolve_hanweb(&st, path, query),
            Family::Gkmlpt => self.resolve_gkmlpt(&st, path, query),
            Family::Jiyue => self.resolve_jiyue(&st, path, query),
            _ => self.resolve_static(&st, path),
        }
    }

    fn resolve_static(&self, st: &HostState, path: &str) -> Resource {
        let Some(c) = st
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| path.starts_with(&c.path))
            .max_by_key(|(_, c)| c.path.len())
            .map(|(i, _)| i)
        else {
            return Resource::NotFound;
        };
        let file = &path[st.columns[c].path.len()..];
        let page = match (self.spec.family, file) {
            (_, "") => 0,
            (Family::Trs | Family::TrsOneBased, "index.html") => 0,
            // gkmlpt: a jump category's column page (see `Host::is_jump`), gov.cn-style.
            (Family::GovCn | Family::Gkmlpt, "index.htm" | "home_0.htm") => 0,
            (Family::Trs, f) => match parse_num(f, "index_", ".html") {
                Some(k) => k,
                None => return Resource::NotFound,
            },
            (Family::TrsOneBased, f) => match parse_num(f, "index_", ".html") {
                Some(k) => k.saturating_sub(1),
                None => return Resource::NotFound,
            },
            (Family::GovCn | Family::Gkmlpt, f) => match parse_num(f, "home_", ".htm") {
                Some(k) => k,
                None => return Resource::NotFound,
            },
            (Family::Hanweb | Family::Jiyue, _) => return Resource::NotFound,
        };
        let listed = self.listed(st, c);
        let per = self.spec.per_page.max(1);
        let pages = listed.len().div_ceil(per).max(1);
        let page = if self.spec.faults.sticky_pager {
            0
        } else {
            page
        };
        let items = if page < pages {
            listed
                .iter()
                .skip(page * per)
                .take(per)
                .map(|&i| st.reports[i].clone())
                .collect()
        } else {
            Vec::new()
        };
        Resource::Listing {
            column: st.columns[c].clone(),
            page: (page < pages).then_some(page),
            pages,
            items,
            children: self.children(st, c),
        }
    }

    /// gkmlpt: the SPA shell (`/gkmlpt/index`, `/gkmlpt/annualreport`) and the JSON API
    /// `/gkmlpt/api/all/{cat}?page=N&sid=…` (pages are 1-based).
    fn resolve_gkmlpt(
        &self,
        st: &HostState,
        path: &str,
        query: &HashMap<String, String>,
    ) -> Resource {
        if path == "/gkmlpt/index" || path == "/gkmlpt/annualreport" {
            let tree = st
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), self.listed(st, i).len()))
                .collect();
            return Resource::GkmlptShell(tree);
        }
        if st
            .columns
            .iter()
            .any(|c| self.is_jump(c) && path.starts_with(&c.path))
        {
            return self.resolve_static(st, path);
        }
        let Some(cat) = path.strip_prefix("/gkmlpt/api/all/") else {
            return Resource::NotFound;
        };
        let per = self.spec.per_page.max(1);
        let page = query
            .get("page")
            .and_then(|p| p.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let page = if self.spec.faults.sticky_pager {
            1
        } else {
            page
        };
        let Some(c) = st
            .columns
            .iter()
            .position(|c| c.col_id.to_string() == cat && !self.is_jump(c))
        else {
            // Other categories of the catalogue exist but hold no reports; a jump category's
            // reports are on its column page.
            return Resource::GkmlptApi {
                column: None,
                items: Vec::new(),
                total: 0,
            };
        };
        let listed = self.listed(st, c);
        Resource::GkmlptApi {
            column: Some(st.columns[c].clone()),
            items: listed
                .iter()
                .skip((page - 1) * per)
                .take(per)
                .map(|&i| st.reports[i].clone())
                .collect(),
            total: listed.len(),
        }
    }

    /// 集约化 platform: the agency navigation page, each agency's column page (first page
    /// server-rendered) and the AJAX label endpoint for every page.
    fn resolve_jiyue(
        &self,
        st: &HostState,
        path: &str,
        query: &HashMap<String, String>,
    ) -> Resource {
        if path == JIYUE_NAV {
            return Resource::JiyueNav(self.children(st, 0));
        }
        let (org, page, fragment) = if path == "/site/label/8888" {
            let page = query
                .get("pageIndex")
                .and_then(|p| p.trim().parse::<usize>().ok())
                .unwrap_or(1);
            (
                query.get("organId").cloned().unwrap_or_default(),
                page,
                true,
            )
        } else if let Some(org) = path.strip_prefix("/public/column/") {
            (org.to_string(), 1, false)
        } else {
            return Resource::NotFound;
        };
        let Some(c) = st
            .columns
            .iter()
            .position(|c| c.key != ColumnKey::Root && c.col_id.to_string() == org)
        else {
            return Resource::NotFound;
        };
        let per = self.spec.per_page.max(1);
        let right_cat = query.get("catId").is_some_and(|v| v == JIYUE_CAT);
        let listed = if right_cat {
            self.listed(st, c)
        } else {
            Vec::new()
        };
        let page = if self.spec.faults.sticky_pager {
            1
        } else {
            page.max(1)
        };
        Resource::JiyueList {
            column: st.columns[c].clone(),
            items: listed
                .iter()
                .skip((page - 1) * per)
                .take(per)
                .map(|&i| st.reports[i].clone())
                .collect(),
            pages: listed.len().div_ceil(per).max(1),
            fragment,
        }
    }

    fn children(&self, st: &HostState, c: usize) -> Vec<Column> {
        st.columns[c]
            .children
            .iter()
            .map(|&k| st.columns[k].clone())
            .collect()
    }

    fn resolve_hanweb(
        &self,
        st: &HostState,
        path: &str,
        query: &HashMap<String, String>,
    ) -> Resource {
        let per = self.spec.per_page.max(1);
        if path == "/module/web/jpage/dataproxy.jsp" {
            let Some(c) = query
                .get("columnid")
                .and_then(|id| st.columns.iter().position(|c| c.col_id.to_string() == *id))
            else {
                return Resource::DataProxy {
                    items: Vec::new(),
                    total: 0,
                    per_page: per,
                    past_end: false,
                };
            };
            let listed = self.listed(st, c);
            let group = 3 * per;
            let num = |k: &str| query.get(k).and_then(|v| v.trim().parse::<usize>().ok());
            let (start, end) = match (num("startrecord"), num("endrecord"), num("page")) {
                (Some(s), e, _) => (s.max(1), e.unwrap_or(s + group - 1)),
                (None, _, Some(p)) => (p * group + 1, (p + 1) * group),
                _ => (1, group),
            };
            let (start, end) = if self.spec.faults.sticky_pager {
                (1, group)
            } else {
                (start, end)
            };
            let items: Vec<ReportMeta> = listed
                .iter()
                .skip(start - 1)
                .take((end + 1).saturating_sub(start))
                .map(|&i| st.reports[i].clone())
                .collect();
            return Resource::DataProxy {
                past_end: start > listed.len(),
                items,
                total: listed.len(),
                per_page: per,
            };
        }
        let Some(c) = st
            .columns
            .iter()
            .position(|c| path == c.path || path == format!("{}index.html", c.path))
        else {
            return Resource::NotFound;
        };
        let listed = self.listed(st, c);
        Resource::Hanweb {
            column: st.columns[c].clone(),
            items: listed
                .iter()
                .take(3 * per)
                .map(|&i| st.reports[i].clone())
                .collect(),
            children: self.children(st, c),
            total: listed.len(),
        }
    }
}

/// 集约化 platform: the agency navigation page, the 年报 category id, the first organId.
pub(crate) const JIYUE_NAV: &str = "/public/jgdh.html";
pub(crate) const JIYUE_CAT: &str = "2003";
const JIYUE_ORG_BASE: u64 = 1681;

/// The site id gkmlpt pages and API calls carry.
pub(crate) const GKMLPT_SID: &str = "755001";

/// A host's state before any report is published: just the root column of `epoch`.
fn fresh_state(spec: &HostSpec, epoch: u32) -> HostState {
    HostState {
        columns: vec![root_column(spec, epoch)],
        reports: Vec::new(),
        by_path: HashMap::new(),
        by_hex: HashMap::new(),
        pdfs: HashMap::new(),
        part_paths: HashMap::new(),
        listing_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_743_465_600),
        added: 0,
        path_hits: HashMap::new(),
        window: VecDeque::new(),
        epoch,
        added_years: Vec::new(),
        moved: Vec::new(),
    }
}

/// The annual-report column's root; each epoch (site reorganisation) has its own.
fn root_column(spec: &HostSpec, epoch: u32) -> Column {
    let e = u64::from(epoch);
    let (path, col_id) = match (spec.family, epoch) {
        (Family::Trs | Family::TrsOneBased, 0) => ("/zwgk/zfxxgk/zfxxgknb/".to_string(), 0),
        (Family::Trs | Family::TrsOneBased, _) => (format!("/xxgk{e}/zfxxgknb{}/", 80 + e), 0),
        (Family::Hanweb, _) => (format!("/col/col{}/", 78012 + 1000 * e), 78012 + 1000 * e),
        (Family::GovCn, 0) => ("/zhengce/zfxxgk/ndbg/".to_string(), 0),
        (Family::GovCn, _) => (format!("/gongkai{e}/zfxxgk/ndbg/"), 0),
        (Family::Gkmlpt, _) => (format!("/gkmlpt/nb{e}/"), 2629 + 100 * e),
        (Family::Jiyue, _) => (format!("/public/jgdh{e}/"), 0),
    };
    Column {
        path,
        title: "政府信息公开年报".to_string(),
        col_id,
        children: Vec::new(),
        key: ColumnKey::Root,
    }
}

fn parse_num(file: &str, prefix: &str, suffix: &str) -> Option<usize> {
    file.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse::<usize>()
        .ok()
}

/// Relative link from a directory (ending in `/`) to an absolute path, the way CMS templates
/// write them: `./sub/file` below, `../x/file` elsewhere.
pub(crate) fn rel_link(from_dir: &str, target: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    let to: Vec<&str> = target.trim_start_matches('/').split('/').collect();
    let to_dirs = &to[..to.len().saturating_sub(1)];
    let common = from.iter().zip(to_dirs).take_while(|(a, b)| a == b).count();
    let ups = from.len() - common;
    let mut s = if ups == 0 {
        "./".to_string()
    } else {
        "../".repeat(ups)
    };
    s.push_str(&to[common..].join("/"));
    s
}

/// Where an article's older address (F-MOVED, [`ReportMeta::old_path`]) points now.
fn current_path(path: &str) -> Option<String> {
    let (dir, file) = path.rsplit_once("/old/")?;
    (!file.contains('/')).then(|| format!("{dir}/{file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        assert_eq!(
            rel_link(
                "/zwgk/zfxxgk/zfxxgknb/",
                "/zwgk/zfxxgk/zfxxgknb/202401/t1.html"
            ),
            "./202401/t1.html"
        );
        assert_eq!(
            rel_link(
                "/zhengce/zfxxgk/ndbg/",
                "/zhengce/zfxxgk/202401/content_1.htm"
            ),
            "../202401/content_1.htm"
        );
        assert_eq!(
            rel_link(
                "/zhengce/zfxxgk/ndbg/2023n/",
                "/zhengce/zfxxgk/202401/c.htm"
            ),
            "../../202401/c.htm"
        );
    }

    #[test]
    fn agency_names_are_unique() {
        let mut names: Vec<String> = (0..400).map(|j| agency_name("某市", j)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 400);
    }
}
