package ikev2

// NotifyType is the type of a Notify payload (RFC 7296 section 3.10.1, IANA
// "IKEv2 Notify Message Types"). Types below 16384 report errors, the rest
// status.
type NotifyType uint16

// Error notifications.
const (
	NotifyUnsupportedCriticalPayload NotifyType = 1
	NotifyInvalidIKESPI              NotifyType = 4
	NotifyInvalidMajorVersion        NotifyType = 5
	NotifyInvalidSyntax              NotifyType = 7
	NotifyInvalidMessageID           NotifyType = 9
	NotifyInvalidSPI                 NotifyType = 11
	NotifyNoProposalChosen           NotifyType = 14
	NotifyInvalidKEPayload           NotifyType = 17
	NotifyAuthenticationFailed       NotifyType = 24
	NotifySinglePairRequired         NotifyType = 34
	NotifyNoAdditionalSAs            NotifyType = 35
	NotifyInternalAddressFailure     NotifyType = 36
	NotifyFailedCPRequired           NotifyType = 37
	NotifyTSUnacceptable             NotifyType = 38
	NotifyInvalidSelectors           NotifyType = 39
	NotifyUnacceptableAddresses      NotifyType = 40 // RFC 4555
	NotifyUnexpectedNATDetected      NotifyType = 41 // RFC 4555
	NotifyUseAssignedHoA             NotifyType = 42 // RFC 5026
	NotifyTemporaryFailure           NotifyType = 43 // RFC 7296
	NotifyChildSANotFound            NotifyType = 44 // RFC 7296
	NotifyInvalidGroupID             NotifyType = 45 // G-IKEv2
	NotifyAuthorizationFailed        NotifyType = 46 // G-IKEv2
	NotifyStateNotFound              NotifyType = 47 // RFC 9370
)

// MOBIKE-X error notifications (draft-mglt-ipsec-mm-mobikex-00). The
// draft's values are private use (8192-16383); these are the suite's,
// answered about one selector set whose ID parameter they echo (package
// libdynamics/ike/mobikex).
const (
	NotifyUnacceptableAddress            NotifyType = 8200
	NotifyDoesNotFitSPD                  NotifyType = 8201
	NotifyUnacceptableParameter          NotifyType = 8202
	NotifyUnexpectedPayloadAfterSelector NotifyType = 8203
	NotifyUnmatchedSelectorSet           NotifyType = 8204
)

// Status notifications.
const (
	NotifyInitialContact                  NotifyType = 16384
	NotifySetWindowSize                   NotifyType = 16385
	NotifyAdditionalTSPossible            NotifyType = 16386
	NotifyIPCompSupported                 NotifyType = 16387
	NotifyNATDetectionSourceIP            NotifyType = 16388
	NotifyNATDetectionDestinationIP       NotifyType = 16389
	NotifyCookie                          NotifyType = 16390
	NotifyUseTransportMode                NotifyType = 16391
	NotifyHTTPCertLookupSupported         NotifyType = 16392
	NotifyRekeySA                         NotifyType = 16393
	NotifyESPTFCPaddingNotSupported       NotifyType = 16394
	NotifyNonFirstFragmentsAlso           NotifyType = 16395
	NotifyMOBIKESupported                 NotifyType = 16396 // RFC 4555
	NotifyAdditionalIP4Address            NotifyType = 16397 // RFC 4555
	NotifyAdditionalIP6Address            NotifyType = 16398 // RFC 4555
	NotifyNoAdditionalAddresses           NotifyType = 16399 // RFC 4555
	NotifyUpdateSAAddresses               NotifyType = 16400 // RFC 4555
	NotifyCookie2                         NotifyType = 16401 // RFC 4555
	NotifyNoNATsAllowed                   NotifyType = 16402 // RFC 4555
	NotifyAuthLifetime                    NotifyType = 16403 // RFC 4478
	NotifyMultipleAuthSupported           NotifyType = 16404 // RFC 4739
	NotifyAnotherAuthFollows              NotifyType = 16405 // RFC 4739
	NotifyRedirectSupported               NotifyType = 16406 // RFC 5685
	NotifyRedirect                        NotifyType = 16407 // RFC 5685
	NotifyRedirectedFrom                  NotifyType = 16408 // RFC 5685
	NotifyTicketLTOpaque                  NotifyType = 16409 // RFC 5723
	NotifyTicketRequest                   NotifyType = 16410
	NotifyTicketAck                       NotifyType = 16411
	NotifyTicketNack                      NotifyType = 16412
	NotifyTicketOpaque                    NotifyType = 16413
	NotifyLinkID                          NotifyType = 16414 // RFC 5739
	NotifyUseWESPMode                     NotifyType = 16415 // RFC 5840
	NotifyROHCSupported                   NotifyType = 16416 // RFC 5857
	NotifyEAPOnlyAuthentication           NotifyType = 16417 // RFC 5998
	NotifyChildlessIKEv2Supported         NotifyType = 16418 // RFC 6023
	NotifyQuickCrashDetection             NotifyType = 16419 // RFC 6290
	NotifyIKEv2MessageIDSyncSupported     NotifyType = 16420 // RFC 6311
	NotifyIPsecReplayCounterSyncSupported NotifyType = 16421
	NotifyIKEv2MessageIDSync              NotifyType = 16422
	NotifyIPsecReplayCounterSync          NotifyType = 16423
	NotifySecurePasswordMethods           NotifyType = 16424 // RFC 6467
	NotifyPSKPersist                      NotifyType = 16425 // RFC 6631
	NotifyPSKConfirm                      NotifyType = 16426
	NotifyERXSupported                    NotifyType = 16427 // RFC 6867
	NotifyIFOMCapability                  NotifyType = 16428
	NotifySenderRequestID                 NotifyType = 16429
	NotifyIKEv2FragmentationSupported     NotifyType = 16430 // RFC 7383
	NotifySignatureHashAlgorithms         NotifyType = 16431 // RFC 7427
	NotifyCloneIKESASupported             NotifyType = 16432 // RFC 7791
	NotifyCloneIKESA                      NotifyType = 16433
	NotifyPuzzle                          NotifyType = 16434 // RFC 8019
	NotifyUsePPK                          NotifyType = 16435 // RFC 8784
	NotifyPPKIdentity                     NotifyType = 16436
	NotifyNoPPKAuth                       NotifyType = 16437
	NotifyIntermediateExchangeSupported   NotifyType = 16438 // RFC 9242
	NotifyIP4Allowed                      NotifyType = 16439 // RFC 8983
	NotifyIP6Allowed                      NotifyType = 16440
	NotifyAdditionalKeyExchange           NotifyType = 16441 // RFC 9370
	NotifyUseAggfrag                      NotifyType = 16442 // RFC 9347
)

// MOBIKE-X status notifications (draft-mglt-ipsec-mm-mobikex-00), in the
// private-use status range (40960-65535). The draft's own values collide
// (END_OF_SELECTOR and ADD_SA_ADDRESS are both 40962); these are the
// suite's. MOBIKE_UNSUPPORTED_VERSION is a status type so that it can
// travel in a successful IKE_AUTH response.
const (
	NotifyMOBIKEUnsupportedVersion NotifyType = 40970
	NotifySelector                 NotifyType = 40971
	NotifyEndOfSelector            NotifyType = 40972
	NotifyAddSAAddress             NotifyType = 40973
	NotifyRemoveSAAddress          NotifyType = 40974
	NotifyAdditionalIPAddress      NotifyType = 40975
	NotifyClosingSA                NotifyType = 40976
)

var notifyNames = map[NotifyType]string{
	NotifyUnsupportedCriticalPayload:      "UNSUPPORTED_CRITICAL_PAYLOAD",
	NotifyInvalidIKESPI:                   "INVALID_IKE_SPI",
	NotifyInvalidMajorVersion:             "INVALID_MAJOR_VERSION",
	NotifyInvalidSyntax:                   "INVALID_SYNTAX",
	NotifyInvalidMessageID:                "INVALID_MESSAGE_ID",
	NotifyInvalidSPI:                      "INVALID_SPI",
	NotifyNoProposalChosen:                "NO_PROPOSAL_CHOSEN",
	NotifyInvalidKEPayload:                "INVALID_KE_PAYLOAD",
	NotifyAuthenticationFailed:            "AUTHENTICATION_FAILED",
	NotifySinglePairRequired:              "SINGLE_PAIR_REQUIRED",
	NotifyNoAdditionalSAs:                 "NO_ADDITIONAL_SAS",
	NotifyInternalAddressFailure:          "INTERNAL_ADDRESS_FAILURE",
	NotifyFailedCPRequired:                "FAILED_CP_REQUIRED",
	NotifyTSUnacceptable:                  "TS_UNACCEPTABLE",
	NotifyInvalidSelectors:                "INVALID_SELECTORS",
	NotifyUnacceptableAddresses:           "UNACCEPTABLE_ADDRESSES",
	NotifyUnexpectedNATDetected:           "UNEXPECTED_NAT_DETECTED",
	NotifyUseAssignedHoA:                  "USE_ASSIGNED_HoA",
	NotifyTemporaryFailure:                "TEMPORARY_FAILURE",
	NotifyChildSANotFound:                 "CHILD_SA_NOT_FOUND",
	NotifyInvalidGroupID:                  "INVALID_GROUP_ID",
	NotifyAuthorizationFailed:             "AUTHORIZATION_FAILED",
	NotifyStateNotFound:                   "STATE_NOT_FOUND",
	NotifyInitialContact:                  "INITIAL_CONTACT",
	NotifySetWindowSize:                   "SET_WINDOW_SIZE",
	NotifyAdditionalTSPossible:            "ADDITIONAL_TS_POSSIBLE",
	NotifyIPCompSupported:                 "IPCOMP_SUPPORTED",
	NotifyNATDetectionSourceIP:            "NAT_DETECTION_SOURCE_IP",
	NotifyNATDetectionDestinationIP:       "NAT_DETECTION_DESTINATION_IP",
	NotifyCookie:                          "COOKIE",
	NotifyUseTransportMode:                "USE_TRANSPORT_MODE",
	NotifyHTTPCertLookupSupported:         "HTTP_CERT_LOOKUP_SUPPORTED",
	NotifyRekeySA:                         "REKEY_SA",
	NotifyESPTFCPaddingNotSupported:       "ESP_TFC_PADDING_NOT_SUPPORTED",
	NotifyNonFirstFragmentsAlso:           "NON_FIRST_FRAGMENTS_ALSO",
	NotifyMOBIKESupported:                 "MOBIKE_SUPPORTED",
	NotifyAdditionalIP4Address:            "ADDITIONAL_IP4_ADDRESS",
	NotifyAdditionalIP6Address:            "ADDITIONAL_IP6_ADDRESS",
	NotifyNoAdditionalAddresses:           "NO_ADDITIONAL_ADDRESSES",
	NotifyUpdateSAAddresses:               "UPDATE_SA_ADDRESSES",
	NotifyCookie2:                         "COOKIE2",
	NotifyNoNATsAllowed:                   "NO_NATS_ALLOWED",
	NotifyAuthLifetime:                    "AUTH_LIFETIME",
	NotifyMultipleAuthSupported:           "MULTIPLE_AUTH_SUPPORTED",
	NotifyAnotherAuthFollows:              "ANOTHER_AUTH_FOLLOWS",
	NotifyRedirectSupported:               "REDIRECT_SUPPORTED",
	NotifyRedirect:                        "REDIRECT",
	NotifyRedirectedFrom:                  "REDIRECTED_FROM",
	NotifyTicketLTOpaque:                  "TICKET_LT_OPAQUE",
	NotifyTicketRequest:                   "TICKET_REQUEST",
	NotifyTicketAck:                       "TICKET_ACK",
	NotifyTicketNack:                      "TICKET_NACK",
	NotifyTicketOpaque:                    "TICKET_OPAQUE",
	NotifyLinkID:                          "LINK_ID",
	NotifyUseWESPMode:                     "USE_WESP_MODE",
	NotifyROHCSupported:                   "ROHC_SUPPORTED",
	NotifyEAPOnlyAuthentication:           "EAP_ONLY_AUTHENTICATION",
	NotifyChildlessIKEv2Supported:         "CHILDLESS_IKEV2_SUPPORTED",
	NotifyQuickCrashDetection:             "QUICK_CRASH_DETECTION",
	NotifyIKEv2MessageIDSyncSupported:     "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
	NotifyIPsecReplayCounterSyncSupported: "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED",
	NotifyIKEv2MessageIDSync:              "IKEV2_MESSAGE_ID_SYNC",
	NotifyIPsecReplayCounterSync:          "IPSEC_REPLAY_COUNTER_SYNC",
	NotifySecurePasswordMethods:           "SECURE_PASSWORD_METHODS",
	NotifyPSKPersist:                      "PSK_PERSIST",
	NotifyPSKConfirm:                      "PSK_CONFIRM",
	NotifyERXSupported:                    "ERX_SUPPORTED",
	NotifyIFOMCapability:                  "IFOM_CAPABILITY",
	NotifySenderRequestID:                 "SENDER_REQUEST_ID",
	NotifyIKEv2FragmentationSupported:     "IKEV2_FRAGMENTATION_SUPPORTED",
	NotifySignatureHashAlgorithms:         "SIGNATURE_HASH_ALGORITHMS",
	NotifyCloneIKESASupported:             "CLONE_IKE_SA_SUPPORTED",
	NotifyCloneIKESA:                      "CLONE_IKE_SA",
	NotifyPuzzle:                          "PUZZLE",
	NotifyUsePPK:                          "USE_PPK",
	NotifyPPKIdentity:                     "PPK_IDENTITY",
	NotifyNoPPKAuth:                       "NO_PPK_AUTH",
	NotifyIntermediateExchangeSupported:   "INTERMEDIATE_EXCHANGE_SUPPORTED",
	NotifyIP4Allowed:                      "IP4_ALLOWED",
	NotifyIP6Allowed:                      "IP6_ALLOWED",
	NotifyAdditionalKeyExchange:           "ADDITIONAL_KEY_EXCHANGE",
	NotifyUseAggfrag:                      "USE_AGGFRAG",
	NotifyUnacceptableAddress:             "UNACCEPTABLE_ADDRESS",
	NotifyDoesNotFitSPD:                   "DOES_NOT_FIT_SPD",
	NotifyUnacceptableParameter:           "UNACCEPTABLE_PARAMETER",
	NotifyUnexpectedPayloadAfterSelector:  "UNEXPECTED_PAYLOAD_AFTER_SELECTOR",
	NotifyUnmatchedSelectorSet:            "UNMATCHED_SELECTOR_SET",
	NotifyMOBIKEUnsupportedVersion:        "MOBIKE_UNSUPPORTED_VERSION",
	NotifySelector:                        "SELECTOR",
	NotifyEndOfSelector:                   "END_OF_SELECTOR",
	NotifyAddSAAddress:                    "ADD_SA_ADDRESS",
	NotifyRemoveSAAddress:                 "REMOVE_SA_ADDRESS",
	NotifyAdditionalIPAddress:             "ADDITIONAL_IP_ADDRESS",
	NotifyClosingSA:                       "CLOSING_SA",
}

// String returns the IANA name of the notification type.
func (t NotifyType) String() string { return name(notifyNames, t, "NOTIFY") }

// IsError reports whether the type is an error notification (below 16384).
// RFC 7296 section 3.10.1: an unrecognised error type in a response means
// the request failed; an unrecognised status type is ignored.
func (t NotifyType) IsError() bool { return t < 16384 }
