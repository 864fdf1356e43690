"""From a CRM export (CSV) to a Parquet file of recommendations: docs/batch.md, run as it is shown there."""

import pandas as pd

from negotiation_rules import advise_frame

deals = pd.read_csv("crm_export.csv")

# which CRM column fills which field of the negotiation state (dotted paths; the history is JSON)
columns = {
    "stage": "phase",
    "trust": "trust",
    "their_authority": "counterpart.authority",
    "other_suppliers": "alternatives",
    "bottom_line_set": "bottom_line_set",
    "history": "history",
}
advice = advise_frame(deals, columns, defaults={"our_side": "seller"}, top=2)

result = deals[["deal_id", "account"]].join(advice)
result.to_parquet("recommendations.parquet", index=False)

print(result[["deal_id", "tactic_1", "score_1", "tactic_2", "score_2"]].to_string(index=False))
print()
print(result.loc[result["error"].notna(), ["deal_id", "error"]].to_string(index=False))
print()
print(result.iloc[0]["move_1"])
print(result.iloc[0]["rationale_1"])
