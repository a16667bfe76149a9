// The simulated ad schedule. Ads are short local videos (generated at build time, like the
// content) played in an overlay above the paused content, the way a linear ad SDK would.
//
// startTime: content position (seconds) at which the break plays; 0 is a pre-roll.
// skipOffset: seconds of an ad after which Skip becomes available (skippable ads only).
export const AD_BREAKS = [
  {
    breakId: 'pre-roll-1',
    name: 'pre-roll',
    startTime: 0,
    ads: [
      {
        adId: 'ad-spring-sale',
        name: 'Spring sale',
        creativeId: 'cr-spring-sale-6s',
        src: 'media/ad-spring-sale.webm',
        skippable: true,
        skipOffset: 2,
      },
    ],
  },
  {
    breakId: 'mid-roll-1',
    name: 'mid-roll',
    startTime: 20,
    ads: [
      {
        adId: 'ad-morning-coffee',
        name: 'Morning coffee',
        creativeId: 'cr-morning-coffee-4s',
        src: 'media/ad-morning-coffee.webm',
        skippable: false,
      },
      {
        adId: 'ad-city-bikes',
        name: 'City bikes',
        creativeId: 'cr-city-bikes-4s',
        src: 'media/ad-city-bikes.webm',
        skippable: true,
        skipOffset: 2,
      },
    ],
  },
];
