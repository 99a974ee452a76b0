"""Valid request bodies for listings, reused across listing tests."""


def achievement_body(**overrides):
    body = {
        "title": "高镍三元正极材料表面包覆改性技术",
        "summary": "采用原子层沉积在高镍NCM811颗粒表面包覆氧化铝，循环500次容量保持率≥92%。",
        "technical_field": "new_energy",
        "keywords": ["锂离子电池", "正极材料"],
        "maturity": "pilot",
        "trl": 6,
        "ip_type": "invention_patent",
        "patent_numbers": ["ZL201710601862.3"],
        "transfer_modes": ["transfer", "license"],
        "asking_price": "1500000.00",
        "inventors": ["张三"],
        "recognitions": [],
        "region_code": "330206",
    }
    body.update(overrides)
    return body


def demand_body(**overrides):
    body = {
        "title": "动力电池壳体激光焊接气孔问题",
        "description": "铝壳动力电池顶盖激光焊接气孔率偏高，需要工艺优化方案，目标气孔率<0.5%。",
        "technical_field": "advanced_manufacturing",
        "keywords": ["激光焊接"],
        "wanted_maturity": "small_batch",
        "budget": "面议",
        "cooperation_modes": ["joint_development"],
        "deadline": "2027-06-30",
        "region_code": "330212",
    }
    body.update(overrides)
    return body
