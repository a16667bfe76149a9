// Snowbridge JavaScript transformation: the partition key of every event is its viewer, by the
// rule the viewer-profile module keys profiles with (plugin/src/identity.rs, viewer_of):
//
//   user_id                 set by the site or app for a logged-in viewer: it follows them
//                           across devices, so a viewer on the web and in the app is one key
//   else domain_userid      the JavaScript tracker's first-party cookie id
//   else client_session     the userId of the client_session entity: the installation id the
//        .userId            mobile trackers (Android, iOS, React Native) keep for the life of
//                           the app, which leave domain_userid empty
//   else network_userid     the collector's cookie, last: an app that loses its cookie store
//                           gets a new one per run, and browsers block it more and more
//
// Empty values, and the nil UUID that the trackers' user anonymisation (client_session.userId)
// and the collector's SP-Anonymous header (network_userid) write in place of an id, are skipped:
// keyed by it, every anonymous viewer would land on one partition as one viewer.
//
// The built-in spEnrichedSetPk takes a single field, so it cannot express this fallback.
//
// Snowbridge runs this in its goja engine without snowplow_mode: `input.Data` is the enriched
// TSV line exactly as it arrived (131 tab-separated fields), and the script hands it back
// unchanged, so the Kafka target still writes TSV, which the hosts read without a JSON detour.
// An event with no usable id throws: Snowbridge sends it to its failure target with this
// message (the module would reject it with the same words).
//
// docker/tests/check_files.py runs this very file with node against the fixture session and
// the mobile and logged-in test vectors, and compares each key with the module's expectation.

var FIELD_COUNT = 131;
var USER_ID = 12;
var DOMAIN_USERID = 15;
var NETWORK_USERID = 17;
var CONTEXTS = 52;
var ANONYMOUS_ID = "00000000-0000-0000-0000-000000000000";
// Major version 1 of the entity, any minor and patch, like the module's schema check.
var CLIENT_SESSION = /^iglu:com\.snowplowanalytics\.snowplow\/client_session\/jsonschema\/1-[0-9]+-[0-9]+$/;

function usable(value) {
  return typeof value === "string" && value !== "" && value !== ANONYMOUS_ID ? value : null;
}

// The userId of the first client_session entity, or null. Parsed only when the atomic ids are
// missing: most events are keyed before their contexts are touched.
function clientSessionUserId(contexts) {
  if (contexts === "") {
    return null;
  }
  var wrapper = JSON.parse(contexts);
  var entities = wrapper !== null && typeof wrapper === "object" ? wrapper.data : null;
  if (!Array.isArray(entities)) {
    return null;
  }
  for (var i = 0; i < entities.length; i++) {
    var entity = entities[i];
    if (entity === null || typeof entity !== "object" || typeof entity.schema !== "string" ||
        !CLIENT_SESSION.test(entity.schema)) {
      continue;
    }
    var id = entity.data !== null && typeof entity.data === "object" ? entity.data.userId : undefined;
    if (id !== undefined && id !== null && typeof id !== "string") {
      throw new Error("client_session: userId is not a string");
    }
    return usable(id);
  }
  return null;
}

function viewerKey(line) {
  var fields = line.split("\t");
  if (fields.length !== FIELD_COUNT) {
    throw new Error("enriched TSV: expected " + FIELD_COUNT + " tab-separated fields, found " + fields.length);
  }
  var key = usable(fields[USER_ID]) || usable(fields[DOMAIN_USERID]) ||
    clientSessionUserId(fields[CONTEXTS]) || usable(fields[NETWORK_USERID]);
  if (key === null) {
    throw new Error("no viewer id: user_id, domain_userid, client_session.userId and network_userid " +
      "are all empty or anonymous");
  }
  return key;
}

function main(input) {
  return { Data: input.Data, PartitionKey: viewerKey(input.Data) };
}
