"""Rules over buyer messages: the labelling functions and the keyword baseline.

**Labelling functions** (:data:`LABELLING_FUNCTIONS`) are written from the scenario
definitions of :class:`~features.schema.vocab.RiskLabel`, one per scenario: patterns that
vote for the label, and patterns that veto it where the definition says a look-alike does
not count ("可以投诉快递员吗", a routine "退款什么时候到", a pre-purchase 价保 question, a pure
delivery delay). They label the training pool (weak supervision); the classifier learns
from what they label and generalises beyond their exact wording.

**Keyword rules** (:data:`KEYWORD_RULES`) are what a supervisor searches for today: a few
plain keywords per scenario, no context. Evaluation reports them next to the model.

Both read :func:`features.chats.chat_text` of a buyer message (simplified, lower-case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from features.schema.vocab import RiskLabel

_CLAUSE = re.compile(r"(?<=[,.!?;~。，！？；])")  # after each punctuation mark, which stays


@dataclass(frozen=True, slots=True)
class LabellingFunction:
    """Votes for ``label`` on a message that matches ``vote`` and not ``veto``."""

    label: RiskLabel
    vote: re.Pattern[str]
    veto: re.Pattern[str] | None = None

    def __call__(self, text: str) -> bool:
        """Whether this function labels the (``chat_text``-normalised) message.

        A veto cancels only the clause it is in: "我已经打12315了,另外怎么投诉快递员?" is
        still a complaint threat.
        """
        if not self.vote.search(text):
            return False
        if self.veto is None or not self.veto.search(text):
            return True
        return any(
            self.vote.search(clause) and not self.veto.search(clause)
            for clause in _CLAUSE.split(text)
        )


def _lf(label: RiskLabel, vote: str, veto: str | None = None) -> LabellingFunction:
    return LabellingFunction(label, re.compile(vote), re.compile(veto) if veto else None)


_MEDIA_ACCOUNT = (
    r"@[^@\s]{0,12}"
    r"(?:新闻|日报|晚报|早报|晨报|时报|商报|快报|都市报|周刊|电视台|卫视|电台|广播|之声|频道|"
    r"爆料|曝光|舆情|记者|媒体|财经|焦点|头条|报道|观察|身边事|那点事)"
)
_REGULATOR = (
    r"12315|12345|12321|(?<!\d)315(?!\d)|工信部|工信微报|工业和信息化部|通管局|通信管理局|"
    r"消协|消费者协会|消保委|市场监管|市场监督管理|市监局|监管局|监管部门|工商局|工商部门|质监|"
    r"物价局|银监|保监|民航局|"
    r"(?:平台|小二|官方)介入|申请仲裁|维权"
)
_OWN_WORDS = r"(?:我|本人|老子|俺)"

LABELLING_FUNCTIONS: tuple[LabellingFunction, ...] = (
    _lf(
        RiskLabel.COMPLAINT_THREAT,
        _REGULATOR + r"|投诉|举报|申诉",
        r"(?:能|可以|怎么|如何|在哪|哪里)(?:投诉|举报)(?:快递|快递员|骑手|司机|别的|其他|他|她)"
        r"|投诉(?:快递员|骑手|司机)(?:吗|嘛|么)|举报(?:电话|垃圾短信|骚扰)",
    ),
    _lf(
        RiskLabel.MEDIA_EXPOSURE,
        _MEDIA_ACCOUNT + r"|曝光|媒体|记者|电视台|报社|央视|焦点访谈|新闻联播|求转发|求扩散|"
        r"帮忙?转发|转发扩散|转起来|扩散|公之于众|让.{0,6}(?:全国|所有人|大家).{0,4}(?:知道|看看)|"
        r"(?:录音|截图|聊天记录).{0,6}(?:公开|发到|放到|发网上)|发到网上|网上曝|上头条|臭你|"
        r"热搜|上热门",
    ),
    _lf(
        RiskLabel.LEGAL_THREAT,
        r"律师|起诉|法院|诉讼|上法庭|打官司|告你们|告到|去告|报警|报案|派出所|公安|(?<!\d)110(?!\d)|"
        r"法律(?:途径|手段|程序|责任)|走法律|追究.{0,6}责任|法庭|诉诸",
        r"(?:诉讼|律师)费(?:用)?是",
    ),
    _lf(
        RiskLabel.SAFETY_INJURY,
        r"过敏|红肿|起疹|疹子|起痘|烂脸|受伤|划伤|割伤|划破|烫伤|烧伤|流血|出血|中毒|拉肚子|腹泻|"
        r"呕吐|上吐下泻|住院|急诊|送医|看医生|就医|爆炸|炸了|起火|着火|冒烟|自燃|漏电|触电|电到我|"
        r"电了一下|发霉|变质|馊了|吃坏|吃出|异物|头晕|恶心想吐|鼓包|辐射超标|烫到|伤到|伤害|"
        r"红疹|湿疹|皮疹|(?:去|进|送|在|住)了?医院|皮肤科|误食|误吞|吞下|洗胃|脸(?:都|就)?烂",
        # a question before buying: "会不会过敏?", "敏感肌能用吗", "我容易过敏,这个刺激吗"
        r"(?:会|会不会|是否|有没有)(?:过敏|漏电|爆炸)(?:[?吗么呢啊]|$)|敏感肌|容易过敏|过敏体质|"
        r"(?:能|可以)(?:用|吃)(?:吗|么|嘛)|刺激(?:吗|么|嘛)",
    ),
    _lf(
        RiskLabel.COUNTERFEIT,
        r"假货|假冒|假的|是假|仿品|仿冒|山寨|高仿|翻新|二手|被用过|用过的|冒牌|不是正品|非正品|"
        r"不是原装|非原装|水货|盗版|假机|假卡|鉴定.{0,4}假|验.{0,2}假|三无",
        r"^(?:这个|请问|你们)?.{0,6}是正品吗|假的吧[?]?$",
    ),
    _lf(
        RiskLabel.FRAUD_SCAM,
        r"诈骗|骗子|骗人|骗钱|骗我|被骗|欺诈|欺骗|坑人|坑钱|忽悠|虚假宣传|虚假广告|虚假|"
        r"霸王条款|吸费|钓鱼|冒充|冒名|乱扣|乱收费|恶意扣|强制扣|强扣|偷扣|盗刷|被刷|吃流量|偷流量|"
        r"(?:莫名其妙|莫名|无故|私自|擅自|偷偷|随意|强行|强制|恶意|不明不白|凭空|未经.{0,6}同意|"
        r"没有?(?:订|开通|申请|同意)(?:过|的)?|我没(?:订|开|用)).{0,10}"
        r"(?:扣|收费|订购|开通|定制|订了|办理|流量|话费|包月|业务)|黑心|欺负消费者|套路|"
        r"不(?:讲|守)信用|言而无信|骗",
        r"防骗|谨防|诈骗电话.{0,4}(?:怎么|如何)举报",
    ),
    _lf(
        RiskLabel.PRIVACY_LEAK,
        r"泄露|泄漏|泄密|个人信息|隐私|骚扰电话|骚扰短信|推销电话|营销电话|垃圾短信|广告短信|"
        r"(?:怎么|为什么|咋)(?:会)?知道我的|知道我(?:的)?(?:订单|电话|号码|地址|名字|信息)|"
        r"卖(?:了)?(?:我的|用户|客户)(?:的)?(?:信息|资料|号码)|信息.{0,4}(?:被卖|卖给|外泄)|"
        r"盗号|账号被盗|被盗",
    ),
    _lf(
        RiskLabel.MASS_COMPLAINT,
        r"很多人|好多人|许多人|不少人|一堆人|大批|不止我|不只我|不是我一个|不是只有我|"
        r"大家都(?:遇到|有|是|出现|在|这样|投诉|反映)|这么多(?:人|客户|用户)|都在投诉|都在骂|都反映|"
        r"全小区|整个小区|整栋|整片|整个(?:区|片|市|县|镇|村|楼|地区|省)|大面积|区域性|"
        r"一大片(?:都|地区|区域|小区|用户)|维权群|(?:拉|建|组)了?(?:个|一个)?群|"
        r"(?:几十|上百|几百|一百多|上千|\d{2,})(?:个)?人(?:了|都|一起)|"
        r"周围(?:的人|邻居|朋友).{0,4}都|身边.{0,4}都|朋友们?都|同事们?都|邻居们?都|"
        r"集体|普遍|全国(?:各地|用户)|所有(?:用户|人|客户)|很多(?:同样|用户|客户|类似)|"
        r"(?:这样|类似)的(?:投诉|问题|情况)(?:很多|不少)|其他.{0,4}用户|你们是不是也|都和我一样|"
        r"随便一搜|都是抱怨|一搜一大堆",
    ),
    _lf(
        RiskLabel.REFUND_DISPUTE,
        r"(?:退款|退货|退钱|换货|退费|退回|返还|退差|退订|退押金|退票|售后|退了|取消了?订单|退)"
        r".{0,16}(?:拒绝|被拒|驳回|不给|不予|不同意|关闭|被关|不退|不让|卡|一直没|迟迟|拖|"
        r"不处理|没人处理|没处理|少退|少了|不对|不一致|失败|没到账|还没到账|不到账|扣了|没有?反应|"
        r"没有?音讯|没人理|爱理不理|不理|很久|好久|那么多天|这么多天|[\d一二两三四五六七八九十几]+天了|"
        r"还没|还在(?:配送|发货)|又发货)|"
        r"(?:不给|拒绝|不让|不肯|不同意|凭什么不|为什么不|不予|不能|无法|不可以)(?:我)?"
        r"(?:申请)?(?:退|换|办理退|售后)|申请不了(?:退|售后)|没有申请售后|退不了|"
        r"强制退款|被退款|(?:要求|必须|给我|赶紧|马上)(?:退|返还|赔)|还我钱|"
        r"(?:扣的|多扣的|多收的|乱扣的).{0,6}(?:钱|费|话费).{0,4}(?:退|返)|赔偿",
        r"^(?:请问)?(?:退款|退货).{0,6}(?:什么时候|多久|几天|怎么|如何)(?:到|能|可以)?.{0,6}"
        r"[?吗么]?$",
    ),
    _lf(
        RiskLabel.PRICE_PROTECTION,
        r"价保|保价|退差价|补差价|差价|降价了|降了.{0,6}(?:元|块|钱)|买贵了|刚买.{0,8}降|"
        r"便宜了.{0,6}(?:元|块)|买完.{0,4}就降",
        r"^.{0,12}(?:有没有|有|支持|能|可以)(?:价保|保价)(?:吗|么|嘛)?[?]?$",
    ),
    _lf(
        RiskLabel.LOGISTICS_LOSS_DAMAGE,
        r"丢件|丢失|弄丢|(?:快递|包裹|货|件|东西)(?:被)?丢了|"
        r"(?:快递|包裹|货|东西|商品|件).{0,10}(?:没收到|未收到|没有收到|收不到)|"
        r"(?:显示|已经|已)签收.{0,12}(?:没|未)(?:收到|见到|拿到|有)|被(?:人)?(?:签收|冒领)|"
        r"别人签收|代签|冒领|破损|压坏|摔坏|碎了|破了|压扁|漏液|漏了|少发|漏发|发少了|少了.{0,4}"
        r"(?:件|个|瓶|盒|包|袋)|缺件|缺少|发错|送错|错发|寄错|派错|空包|空盒",
        r"还没(?:有)?收到.{0,4}(?:呢|吗|啊)?$|什么时候(?:能)?(?:到|收到|发货)",
    ),
    _lf(
        RiskLabel.ABUSIVE_LANGUAGE,
        r"傻逼|傻b|(?<![a-z])sb(?![a-z])|煞笔|傻缺|傻x|傻叉|脑残|白痴|智障|弱智|去死|死全家|"
        r"他妈|妈的|tmd|尼玛|你妈|我操|卧槽|操你|艹|狗屎|吃屎|混蛋|王八|畜生|贱人|废物|蠢货|猪脑|"
        r"孙子|狗日|不要脸|无耻|人渣|fuck|shit|屌|鸡巴|狗东西|滚蛋|滚犊子|垃圾(?!短信|邮件|电话|广告)|"
        r"狗咬狗|卵用|你大爷|操蛋|缺德|流氓|听不懂人话|脑子(?:有)?(?:问题|进水|有病|坏了)|有病|"
        r"神经病|二百五|破店|破公司|黑店|滚(?:吧|开|蛋|犊子|出去|!)|^滚$|是猪|猪吗|猪一样|恶心死|"
        r"去你的|狗一样",
    ),
    _lf(
        RiskLabel.EXTREME_NEGATIVE_CHURN,
        r"再也不|再也没|永远不|以后不(?:会|再)|不会再(?:买|用|来)|再不(?:买|用|来)|销户|注销|"
        r"携号转网|转网|换(?:成)?(?:移动|联通|电信|运营商|号|别家)|退网|卸载|拉黑|取消(?:业务|套餐|会员|宽带)|"
        r"(?:退|不要|不用)(?:了)?(?:这个)?(?:宽带|套餐|号)|太失望|失望透顶|很失望|非常失望|寒心|心寒|"
        r"气死|崩溃|绝望|受够|忍无可忍|恶心|愤怒|无语|火大|心累|太差|极差|最差|垃圾|太烂|烂透|"
        r"投诉无门|千万(?:别|不要)|奉劝|劝大家|大家(?:千万|不要|别)|不要(?:再)?(?:买|用|办)|"
        r"谁用谁|后悔|上当|!{3,}|\?{3,}|[!?]{4,}",
    ),
    _lf(
        RiskLabel.REPEATED_CONTACT,
        r"第[二三四五六七八九十几\d]+次|[两二三四五六七八九十几\d]+次了|"
        r"(?:打|问|找|联系|电话|催|反映|投诉|换|报修|申请)(?:了|过)?.{0,4}[两二三四五六七八九十几\d]+次|"
        r"多次|好几次|无数次|n次|屡次|一再|反复|三番|每次都|又(?:来|扣|断|停|出现|不|没|是|坏|掉)|"
        r"再次|一直(?:没|不)|至今|到现在(?:还|都|也)|说好的|答应(?:我|过|了|的)|承诺|"
        r"不是说.{0,12}(?:吗|么|呢|\?)|说(?:好|了)?.{0,8}(?:打电话|回复|联系|处理).{0,6}(?:也没|没有?|呢)|"
        r"(?:已经|都|快)[\d一二两三四五六七八九十几半]+(?:天|周|个月|月|星期|礼拜|小时)(?:了)?.{0,8}"
        r"(?:还|都|没|不)|还是(?:没|不|上不去)|仍然|依然|催了|上次|之前(?:说|反映|投诉|联系|打|问)|"
        r"(?:私信|电话|客服).{0,6}(?:没人|无人|没有人)|没人(?:理|管|回|处理)|石沉大海|"
        r"拖了|一拖再拖|反映过|投诉过|说过了|问过|那么多天|这么多天",
    ),
)


def labelling_votes(texts: list[str]) -> np.ndarray:
    """The labelling functions' votes, messages × labels (``RiskLabel`` order), as 0/1."""
    out = np.zeros((len(texts), len(RiskLabel)), dtype=np.int8)
    column = {label: i for i, label in enumerate(RiskLabel)}
    for lf in LABELLING_FUNCTIONS:
        j = column[lf.label]
        for i, text in enumerate(texts):
            if not out[i, j] and lf(text):
                out[i, j] = 1
    return out


#: The keyword rules a supervisor uses today: any keyword anywhere in a buyer message.
KEYWORD_RULES: dict[RiskLabel, tuple[str, ...]] = {
    RiskLabel.COMPLAINT_THREAT: ("投诉", "12315", "消协", "工信部"),
    RiskLabel.MEDIA_EXPOSURE: ("曝光", "媒体", "记者", "转发"),
    RiskLabel.LEGAL_THREAT: ("律师", "起诉", "法院", "报警"),
    RiskLabel.SAFETY_INJURY: ("过敏", "受伤", "爆炸", "中毒"),
    RiskLabel.COUNTERFEIT: ("假货", "假的", "正品", "翻新"),
    RiskLabel.FRAUD_SCAM: ("骗", "欺诈", "扣费"),
    RiskLabel.PRIVACY_LEAK: ("泄露", "隐私", "骚扰电话"),
    RiskLabel.MASS_COMPLAINT: ("很多人", "大家都", "不止我"),
    RiskLabel.REFUND_DISPUTE: ("退款", "退货", "退钱"),
    RiskLabel.PRICE_PROTECTION: ("价保", "保价", "差价"),
    RiskLabel.LOGISTICS_LOSS_DAMAGE: ("丢件", "没收到", "破损", "少发"),
    RiskLabel.ABUSIVE_LANGUAGE: ("傻逼", "垃圾", "他妈", "滚"),
    RiskLabel.EXTREME_NEGATIVE_CHURN: ("再也不", "销户", "失望", "差评"),
    RiskLabel.REPEATED_CONTACT: ("多次", "又", "第二次", "还没"),
}


def keyword_votes(texts: list[str]) -> np.ndarray:
    """:data:`KEYWORD_RULES` on each message, messages × labels (``RiskLabel`` order), as 0/1."""
    out = np.zeros((len(texts), len(RiskLabel)), dtype=np.int8)
    for j, label in enumerate(RiskLabel):
        words = KEYWORD_RULES[label]
        for i, text in enumerate(texts):
            out[i, j] = any(w in text for w in words)
    return out
