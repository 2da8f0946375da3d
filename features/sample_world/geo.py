"""Where the sample world's people live and where its warehouses stand.

A small, consistent gazetteer (province → city → districts), its region (which decides the
shipping warehouse), and vectorised composition of street addresses from pools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# one city a line: province | short name | region | province population weight | city | districts
_GAZETTEER = """
上海市|上海|华东|2.5|上海市|浦东新区 徐汇区 闵行区 静安区 杨浦区 宝山区
江苏省|江苏|华东|5.5|南京市|鼓楼区 玄武区 江宁区 建邺区
江苏省|江苏|华东|5.5|苏州市|姑苏区 吴中区 工业园区 昆山市
江苏省|江苏|华东|5.5|无锡市|梁溪区 滨湖区 新吴区
浙江省|浙江|华东|4.8|杭州市|西湖区 拱墅区 滨江区 余杭区 萧山区
浙江省|浙江|华东|4.8|宁波市|海曙区 鄞州区 江北区
浙江省|浙江|华东|4.8|温州市|鹿城区 瓯海区 龙湾区
安徽省|安徽|华东|2.6|合肥市|蜀山区 包河区 庐阳区
安徽省|安徽|华东|2.6|芜湖市|镜湖区 鸠江区
山东省|山东|华东|5.2|济南市|历下区 市中区 槐荫区
山东省|山东|华东|5.2|青岛市|市南区 崂山区 黄岛区 李沧区
山东省|山东|华东|5.2|烟台市|芝罘区 莱山区
福建省|福建|华东|2.8|福州市|鼓楼区 台江区 仓山区
福建省|福建|华东|2.8|厦门市|思明区 湖里区 集美区
江西省|江西|华东|1.8|南昌市|东湖区 西湖区 红谷滩区
北京市|北京|华北|2.6|北京市|朝阳区 海淀区 丰台区 东城区 西城区 通州区
天津市|天津|华北|1.3|天津市|和平区 南开区 河西区 滨海新区
河北省|河北|华北|3.4|石家庄市|长安区 桥西区 裕华区
河北省|河北|华北|3.4|保定市|竞秀区 莲池区
山西省|山西|华北|1.4|太原市|小店区 迎泽区 杏花岭区
辽宁省|辽宁|东北|2.1|沈阳市|和平区 沈河区 浑南区
辽宁省|辽宁|东北|2.1|大连市|中山区 沙河口区 甘井子区
吉林省|吉林|东北|1.0|长春市|朝阳区 南关区 绿园区
黑龙江省|黑龙江|东北|1.2|哈尔滨市|南岗区 道里区 香坊区
内蒙古自治区|内蒙古|华北|0.8|呼和浩特市|新城区 赛罕区
广东省|广东|华南|7.5|广州市|天河区 越秀区 海珠区 白云区 番禺区
广东省|广东|华南|7.5|深圳市|南山区 福田区 宝安区 龙岗区 罗湖区
广东省|广东|华南|7.5|东莞市|南城街道 东城街道 长安镇
广东省|广东|华南|7.5|佛山市|禅城区 南海区 顺德区
广西壮族自治区|广西|华南|1.8|南宁市|青秀区 兴宁区 西乡塘区
广西壮族自治区|广西|华南|1.8|桂林市|七星区 象山区
海南省|海南|华南|0.6|海口市|美兰区 龙华区
海南省|海南|华南|0.6|三亚市|吉阳区 天涯区
四川省|四川|西南|3.6|成都市|武侯区 锦江区 青羊区 高新区 双流区
四川省|四川|西南|3.6|绵阳市|涪城区 游仙区
重庆市|重庆|西南|1.9|重庆市|渝中区 江北区 南岸区 渝北区 沙坪坝区
云南省|云南|西南|1.5|昆明市|五华区 盘龙区 官渡区
贵州省|贵州|西南|1.1|贵阳市|南明区 云岩区 观山湖区
湖北省|湖北|华中|2.9|武汉市|武昌区 江汉区 洪山区 江岸区
湖北省|湖北|华中|2.9|宜昌市|西陵区 伍家岗区
湖南省|湖南|华中|2.6|长沙市|岳麓区 芙蓉区 天心区 雨花区
湖南省|湖南|华中|2.6|株洲市|天元区 芦淞区
河南省|河南|华中|3.9|郑州市|金水区 二七区 中原区 郑东新区
河南省|河南|华中|3.9|洛阳市|洛龙区 西工区
陕西省|陕西|西北|1.9|西安市|雁塔区 碑林区 未央区 长安区
甘肃省|甘肃|西北|0.7|兰州市|城关区 七里河区
新疆维吾尔自治区|新疆|西北|0.7|乌鲁木齐市|天山区 沙依巴克区
宁夏回族自治区|宁夏|西北|0.3|银川市|兴庆区 金凤区
"""

#: Warehouses in the order they are opened as the world grows: code, name, region, province,
#: city, and the regions each serves (its own region first).
WAREHOUSES: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("WH-EC01", "华东中心仓（嘉兴）", "华东", "浙江省", "嘉兴市", ("华东",)),
    ("WH-NC01", "华北仓（天津武清）", "华北", "天津市", "天津市", ("华北", "东北", "西北")),
    ("WH-SC01", "华南仓（东莞）", "华南", "广东省", "东莞市", ("华南",)),
    ("WH-SW01", "西南仓（成都）", "西南", "四川省", "成都市", ("西南", "西北")),
    ("WH-CC01", "华中仓（武汉）", "华中", "湖北省", "武汉市", ("华中",)),
    ("WH-NW01", "西北仓（西安）", "西北", "陕西省", "西安市", ("西北",)),
)

_ROADS = (
    "人民", "解放", "中山", "建设", "和平", "新华", "文化", "胜利", "长江", "黄河", "青年",
    "朝阳", "光明", "幸福", "东风", "学府", "科技", "花园", "滨江", "环城", "文三", "天目山",
    "延安", "淮海", "南京", "北京", "上海", "复兴", "江南", "金桥", "工业", "迎宾", "世纪",
    "民主", "团结", "友谊", "振兴", "凤凰", "紫金", "丹凤", "望江", "龙华", "创业", "育才",
)  # fmt: skip
_ROAD_DIR = ("", "", "", "东", "西", "南", "北", "中")
_ROAD_KIND = ("路", "路", "路", "街", "大道")
_COMMUNITY = (
    "阳光", "金色", "翠苑", "锦绣", "碧桂园", "万科", "绿地", "保利", "华府", "御景", "紫荆",
    "桂花", "海棠", "书香", "星河", "龙湖", "融创", "中海", "世纪", "东方", "滨江", "春天",
    "和谐", "幸福", "名都", "国际", "未来", "香樟", "梧桐", "枫林", "湖畔", "江景", "城南",
)  # fmt: skip
_COMMUNITY_KIND = ("花园", "小区", "家园", "公寓", "苑", "新村", "华庭", "名邸", "城", "府")


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """Flat arrays over (province, city, district) triples, sampled by population."""

    province: np.ndarray  # full names, e.g. 浙江省
    province_short: np.ndarray  # 浙江
    city: np.ndarray
    district: np.ndarray
    region: np.ndarray
    weight: np.ndarray  # sampling probability of each triple

    @classmethod
    def build(cls) -> Gazetteer:
        table = [line.split("|") for line in _GAZETTEER.strip().splitlines()]
        n_cities: dict[str, int] = {}
        for prov, *_ in table:
            n_cities[prov] = n_cities.get(prov, 0) + 1
        rows = []
        seen: set[str] = set()
        for prov, short, region, pop, city, text in table:
            first = prov not in seen  # a province's first city is its capital: the biggest
            seen.add(prov)
            share = float(pop) * (0.6 if first else 0.4 / max(1, n_cities[prov] - 1))
            share = float(pop) if n_cities[prov] == 1 else share
            districts = text.split()
            for district in districts:
                rows.append((prov, short, city, district, region, share / len(districts)))
        frame = pd.DataFrame(rows, columns=["p", "ps", "c", "d", "r", "w"])
        weight = frame["w"].to_numpy(float)
        return cls(
            province=frame["p"].to_numpy(object),
            province_short=frame["ps"].to_numpy(object),
            city=frame["c"].to_numpy(object),
            district=frame["d"].to_numpy(object),
            region=frame["r"].to_numpy(object),
            weight=weight / weight.sum(),
        )

    def __len__(self) -> int:
        return len(self.weight)

    def warehouse_of(self, warehouses: list[tuple[str, ...]]) -> np.ndarray:
        """Index (into ``warehouses``) of the warehouse that ships to each triple."""
        serves: dict[str, int] = {}
        for i, wh in enumerate(warehouses):
            for region in wh[5]:
                serves.setdefault(region, i)
        return np.array([serves.get(r, 0) for r in self.region], dtype=np.int16)


@dataclass(frozen=True, slots=True)
class StreetAddress:
    """Components of street addresses (one entry per address), kept apart so that each
    platform account can write the same address its own way."""

    road: np.ndarray  # 文三路
    number: np.ndarray  # int
    community: np.ndarray  # 翠苑小区
    building: np.ndarray  # int
    unit: np.ndarray  # int
    room: np.ndarray  # int, e.g. 502


def random_streets(rng: np.random.Generator, n: int) -> StreetAddress:
    """``n`` street addresses drawn from the pools."""
    return streets_from_uniforms(rng.random((n, 9)))


def streets_from_uniforms(u: np.ndarray) -> StreetAddress:
    """Street addresses from uniforms ``u[n, 9]`` (hashes give the same address again)."""

    def pick(pool: tuple[str, ...], col: int) -> np.ndarray:
        return np.array(pool, dtype=object)[(u[:, col] * len(pool)).astype(np.int64)]

    def num(col: int, lo: int, hi: int) -> np.ndarray:
        return lo + (u[:, col] * (hi - lo)).astype(np.int64)

    return StreetAddress(
        road=cat(pick(_ROADS, 0), pick(_ROAD_DIR, 1), pick(_ROAD_KIND, 2)),
        number=num(3, 1, 999),
        community=cat(pick(_COMMUNITY, 4), pick(_COMMUNITY_KIND, 5)),
        building=num(6, 1, 40),
        unit=num(7, 1, 6),
        room=num(8, 1, 33) * 100 + (u[:, 8] * 1000 % 4).astype(np.int64) + 1,
    )


def cat(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise concatenation of arrays of strings or numbers, and scalar strings."""
    out: pd.Series | None = None
    for part in parts:
        if isinstance(part, str):
            series: pd.Series | str = part
        elif part.dtype == object:  # already text
            series = pd.Series(part, dtype=object, copy=False)
        else:
            series = pd.Series(part.astype(str).astype(object), dtype=object)
        out = series if out is None else out + series  # type: ignore[operator,assignment]
    assert out is not None
    return np.asarray(out, dtype=object)
