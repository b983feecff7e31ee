"""What the pay page says, in English and Nepali. Plain data: the templates escape every value."""

from __future__ import annotations

from typing import NamedTuple


class Words(NamedTuple):
    en: str
    ne: str


class Notice(NamedTuple):
    kind: str  # good | bad | info
    en: str
    ne: str


# The status line, by the page's state (services.paylink.page_state).
STATUS = {
    "payable": Words("Not paid yet", "तिर्न बाँकी"),
    "pending": Words("Being processed by Khalti", "खल्तीमा प्रक्रियामा"),
    "paid": Words("Paid", "तिरिसकिएको"),
    "refunded": Words("Paid, then refunded", "तिरेपछि फिर्ता गरिएको"),
    "voided": Words("Withdrawn by the school", "विद्यालयले हटाएको"),
    "review": Words("Being checked by the school office", "विद्यालयको कार्यालयले जाँच गर्दै"),
}

# The message in place of the button, when the fee cannot be paid online.
MESSAGE = {
    "pending": Words(
        "Khalti is still processing a payment for this fee. Please do not pay again: the school will "
        "confirm it. If this lasts more than a day, contact the school office.",
        "यो शुल्कको भुक्तानी खल्तीमा प्रक्रियामा छ। कृपया फेरि नतिर्नुहोस्: विद्यालयले पुष्टि गर्नेछ। "
        "एक दिनभन्दा बढी भएमा विद्यालयको कार्यालयमा सम्पर्क गर्नुहोस्।",
    ),
    "paid": Words("This fee is paid. Thank you!", "यो शुल्क तिरिसकिएको छ। धन्यवाद!"),
    "refunded": Words(
        "This fee was paid and the money (or part of it) has been refunded. Contact the school office "
        "with any question.",
        "यो शुल्क तिरिएको थियो र रकम (वा केही रकम) फिर्ता गरिएको छ। केही प्रश्न भए विद्यालयको कार्यालयमा सम्पर्क गर्नुहोस्।",
    ),
    "voided": Words(
        "The school has withdrawn this fee: there is nothing to pay.",
        "विद्यालयले यो शुल्क हटाएको छ: तिर्नुपर्ने केही छैन।",
    ),
    "review": Words(
        "The school office needs to check this fee. Please contact the school office before paying.",
        "विद्यालयको कार्यालयले यो शुल्क जाँच गर्नुपर्ने छ। तिर्नुअघि कृपया विद्यालयको कार्यालयमा सम्पर्क गर्नुहोस्।",
    ),
}
PAID_OFFLINE = Words("This fee was paid at the school. Thank you!", "यो शुल्क विद्यालयमै तिरिएको छ। धन्यवाद!")

# After Khalti sends the parent back (the return page), by the payment's status then.
RETURN_NOTICE = {
    "completed": Notice("good", "Payment received. Thank you!", "भुक्तानी प्राप्त भयो। धन्यवाद!"),
    "canceled": Notice("bad", "The payment was canceled: nothing was paid.", "भुक्तानी रद्द भयो: केही तिरिएको छैन।"),
    "expired": Notice(
        "bad", "The Khalti page expired before the payment: nothing was paid.", "भुक्तानी हुनुअघि खल्ती पेजको म्याद सकियो।"
    ),
    "failed": Notice("bad", "The payment did not go through: nothing was paid.", "भुक्तानी हुन सकेन: केही तिरिएको छैन।"),
    "initiated": Notice(
        "info",
        "Khalti has not confirmed a payment yet. If you paid, wait a minute and reload this page.",
        "खल्तीले भुक्तानी पुष्टि गरेको छैन। तिर्नुभएको भए एक मिनेट पर्खेर यो पेज फेरि खोल्नुहोस्।",
    ),
}

NOT_FOUND = (
    Words("Link not found", "लिङ्क भेटिएन"),
    Words(
        "This payment link is not known here. Check the link on your fee slip or message, or contact the "
        "school office.",
        "यो भुक्तानी लिङ्क यहाँ भेटिएन। शुल्क पर्ची वा सन्देशको लिङ्क जाँच्नुहोस्, वा विद्यालयको कार्यालयमा सम्पर्क गर्नुहोस्।",
    ),
)
KHALTI_DOWN = (
    Words("Khalti is not answering right now", "खल्तीले अहिले जवाफ दिइरहेको छैन"),
    Words(
        "Nothing was paid and nothing was lost. Please try again in a few minutes.",
        "केही तिरिएको छैन र केही गुमेको छैन। केही मिनेटपछि फेरि प्रयास गर्नुहोस्।",
    ),
)
CHECK_LATER = (
    Words("We could not confirm your payment yet", "तपाईंको भुक्तानी अहिले पुष्टि गर्न सकिएन"),
    Words(
        "Khalti did not answer us. If you paid, your money is safe: try again in a few minutes, and the "
        "school will see your payment in any case.",
        "खल्तीले जवाफ दिएन। तिर्नुभएको भए रकम सुरक्षित छ: केही मिनेटपछि फेरि प्रयास गर्नुहोस्; विद्यालयले "
        "जसरी पनि तपाईंको भुक्तानी देख्नेछ।",
    ),
)
BUSY = (
    Words("The page is busy", "पेज व्यस्त छ"),
    Words("Please try again in a minute.", "कृपया एक मिनेटपछि फेरि प्रयास गर्नुहोस्।"),
)
SETUP = (
    Words("Online payment is not available", "अनलाइन भुक्तानी उपलब्ध छैन"),
    Words(
        "The school's payment set-up has a problem. Please contact the school office.",
        "विद्यालयको भुक्तानी व्यवस्थामा समस्या छ। कृपया विद्यालयको कार्यालयमा सम्पर्क गर्नुहोस्।",
    ),
)
TOO_MANY = (
    Words("Too many tries", "धेरै पटक प्रयास भयो"),
    Words("Please wait a minute, then try again.", "कृपया एक मिनेट पर्खेर फेरि प्रयास गर्नुहोस्।"),
)
BROKEN = (
    Words("Something went wrong", "केही गडबड भयो"),
    Words(
        "Nothing was paid. Please try again later, or contact the school office.",
        "केही तिरिएको छैन। पछि फेरि प्रयास गर्नुहोस्, वा विद्यालयको कार्यालयमा सम्पर्क गर्नुहोस्।",
    ),
)
