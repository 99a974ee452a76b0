"""Technology brokers (技术经纪人 / 技术经理人): registry, employment, contract links, performance, rewards."""
