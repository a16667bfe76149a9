//! What the simulated viewers watch and which ads they see: open films, two live channels.

pub struct Video {
    pub label: &'static str,
    pub slug: &'static str,
    /// Seconds; `None` for a live stream.
    pub duration: Option<f64>,
}

pub static VIDEOS: [Video; 12] = [
    Video { label: "Big Buck Bunny", slug: "big-buck-bunny", duration: Some(596.474) },
    Video { label: "Sintel", slug: "sintel", duration: Some(888.0) },
    Video { label: "Tears of Steel", slug: "tears-of-steel", duration: Some(734.0) },
    Video { label: "Elephants Dream", slug: "elephants-dream", duration: Some(653.8) },
    Video { label: "Cosmos Laundromat", slug: "cosmos-laundromat", duration: Some(724.0) },
    Video { label: "Spring", slug: "spring", duration: Some(464.0) },
    Video { label: "Agent 327: Operation Barbershop", slug: "agent-327", duration: Some(231.0) },
    Video { label: "Caminandes: Llamigos", slug: "caminandes-llamigos", duration: Some(150.0) },
    Video { label: "Sprite Fright", slug: "sprite-fright", duration: Some(629.0) },
    Video { label: "Charge", slug: "charge", duration: Some(240.0) },
    Video { label: "Live: City Newsroom", slug: "live-newsroom", duration: None },
    Video { label: "Live: Match Day", slug: "live-match-day", duration: None },
];

/// (name, creative id)
pub static ADS: [(&str, &str); 8] = [
    ("Summer Sale", "cr-summer-01"),
    ("Electric Hatchback", "cr-ev-02"),
    ("Coffee Club", "cr-coffee-03"),
    ("Travel Deals", "cr-travel-04"),
    ("Streaming Premium", "cr-premium-05"),
    ("Running Shoes", "cr-shoes-06"),
    ("Home Insurance", "cr-home-07"),
    ("Mobile Plan", "cr-mobile-08"),
];
