import Foundation
import Testing
@testable import WireProtocol

@Suite struct ControlTests {
    @Test func requestsRoundTrip() throws {
        let requests: [ControlRequest] = [.status, .streams(), .streams(StreamsPage(cursor: 12, limit: 5)), .drop(stream: try StreamID("a/b")), .ping,
                                          .reload(model: nil), .reload(model: "/m.safetensors"), .metrics]
        for request in requests {
            #expect(try ControlRequest(jsonBytes: request.jsonBytes) == request)
        }
        #expect(String(decoding: ControlRequest.reload(model: nil).jsonBytes, as: UTF8.self) == #"{"command":"reload"}"#)
    }

    @Test func streamsPagesDefaultAndSayWhatTheyAskFor() throws {
        #expect(String(decoding: ControlRequest.streams().jsonBytes, as: UTF8.self) == #"{"command":"streams"}"#)
        #expect(String(decoding: ControlRequest.streams(StreamsPage(cursor: 7, limit: 20)).jsonBytes, as: UTF8.self)
                == #"{"command":"streams","cursor":7,"limit":20}"#)
        #expect(try ControlRequest(jsonBytes: Array(#"{"command":"streams","limit":10000}"#.utf8))
                == .streams(StreamsPage(cursor: 0, limit: 10_000)))
        // A daemon from before paging sends no cursor: its one reply is the whole list.
        let old = try ControlReply(jsonBytes: Array(#"{"ok":true,"streams":[]}"#.utf8), for: .streams())
        #expect(old == .streams(StreamsReply(streams: [], cursor: 0)))
    }

    @Test func requestsAcceptLayoutNullsAndUnknownMembers() throws {
        #expect(try ControlRequest(jsonBytes: Array("  {\n \"command\" : \"ping\", \"extra\": [1] }".utf8)) == .ping)
        #expect(try ControlRequest(jsonBytes: Array(#"{"command":"reload","model":null}"#.utf8)) == .reload(model: nil))
    }

    @Test(arguments: [
        ("", ErrorCode.badRequest),
        ("not json", .badRequest),
        ("[\"status\"]", .badRequest),
        ("{}", .badRequest),
        (#"{"command":7}"#, .badRequest),
        (#"{"command":"drop"}"#, .badRequest),
        (#"{"command":"drop","stream":"$errors"}"#, .badRequest),
        (#"{"command":"drop","stream":""}"#, .badRequest),
        (#"{"command":"reload","model":5}"#, .badRequest),
        (#"{"command":"reload","model":""}"#, .badRequest),
        (#"{"command":"streams","cursor":-1}"#, .badRequest),
        (#"{"command":"streams","cursor":"5"}"#, .badRequest),
        (#"{"command":"streams","cursor":true}"#, .badRequest),
        (#"{"command":"streams","cursor":1.5}"#, .badRequest),
        (#"{"command":"streams","limit":0}"#, .badRequest),
        (#"{"command":"streams","limit":10001}"#, .badRequest),
        (#"{"command":"streams","limit":false}"#, .badRequest),
        (#"{"command":"STATUS"}"#, .unknownCommand),
        (#"{"command":"shutdown"}"#, .unknownCommand),
    ])
    func refusesBadRequests(json: String, code: ErrorCode) {
        #expect(performing: { _ = try ControlRequest(jsonBytes: Array(json.utf8)) },
                throws: { ($0 as? WireError)?.code == code && !(($0 as? WireError)?.message.isEmpty ?? true) })
    }

    @Test func repliesRoundTrip() throws {
        let id = try StreamID("s1")
        let model = SpecVectorTests.status.model
        let cases: [(ControlRequest, ControlReply)] = [
            (.status, .status(SpecVectorTests.status)),
            (.streams(), .streams(StreamsReply(streams: []))),
            (.drop(stream: id), .drop(DropReply(stream: id, nextRow: 12))),
            (.ping, .ping(PingReply(uptimeSeconds: 3.25))),
            (.reload(model: nil), .reload(ReloadReply(model: model, previousModels: []))),
            (.metrics, .metrics(MetricsReply(metrics: "# TYPE lstmd_live_streams gauge\nlstmd_live_streams 2\n"))),
            (.drop(stream: id), .failure(ErrorBody(code: "unknown_stream", message: "stream \"s1\" is not live"))),
        ]
        for (request, reply) in cases {
            let bytes = reply.jsonBytes
            #expect(try ControlReply(jsonBytes: bytes, for: request) == reply)
            let object = try #require(try jsonObject(bytes) as? [String: Any])
            if case .failure = reply { #expect(object["ok"] as? Bool == false) } else { #expect(object["ok"] as? Bool == true) }
        }
    }

    @Test func repliesUseSnakeCaseKeys() throws {
        let object = try #require(try jsonObject(ControlReply.ping(PingReply(uptimeSeconds: 1)).jsonBytes) as? [String: Any])
        #expect(Set(object.keys) == ["ok", "protocol_version", "uptime_seconds"])
        #expect(object["protocol_version"] as? Int == 2)
        // A model without a path or sequence length omits those members.
        var model = SpecVectorTests.status.model
        model.path = nil
        model.sequenceLength = nil
        let encoded = try #require(try jsonObject(ControlReply.reload(ReloadReply(model: model, previousModels: [])).jsonBytes) as? [String: Any])
        let members = try #require(encoded["model"] as? [String: Any])
        #expect(Set(members.keys) == ["sha256", "shape", "input_scale", "labels", "loaded_at", "live_streams"])
    }

    @Test func failureRepliesCarryTheError() throws {
        let error = WireError(.reloadFailed, "cannot read /x: no such file")
        let bytes = ControlReply(error).jsonBytes
        #expect(String(decoding: bytes, as: UTF8.self)
                == #"{"error":{"code":"reload_failed","message":"cannot read /x: no such file"},"ok":false}"#)
        // A failure decodes whatever the request was.
        #expect(try ControlReply(jsonBytes: bytes, for: .status) == .failure(error.body))
    }

    @Test func malformedRepliesAreBadBody() {
        for text in ["", "{}", #"{"ok":true}"#, #"{"ok":false}"#, #"{"ok":true,"stream":"$x","next_row":1}"#] {
            let request: ControlRequest = text.contains("stream") ? .drop(stream: try! StreamID("a")) : .status
            #expect("\(text)", performing: { _ = try ControlReply(jsonBytes: Array(text.utf8), for: request) },
                    throws: { ($0 as? WireError)?.code == .badBody })
        }
    }

    @Test func endpointsAndVersion() {
        #expect(ProtocolVersion.current == 2 && ProtocolVersion.headerSize(1) == 8 && ProtocolVersion.headerSize(2) == 12)
        #expect([DefaultEndpoints.ingest, DefaultEndpoints.predictions, DefaultEndpoints.control, DefaultEndpoints.results]
                == ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556", "tcp://127.0.0.1:5557", "tcp://127.0.0.1:5558"])
        #expect(PublicationMode(rawValue: "final") == .final && PublicationMode.allCases.count == 2)
        #expect(errorsTopic == "$errors")
    }
}
