//! The SecLang variables this engine knows; unknown names are load errors.

macro_rules! vars {
    ($($v:ident => $n:literal, $coll:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Var { $($v,)* }
        impl Var {
            pub fn from_name(name: &str) -> Option<Var> {
                let upper = name.to_ascii_uppercase();
                match upper.as_str() {
                    $($n => Some(Var::$v),)*
                    // libmodsecurity3 knows both spellings; its recommended
                    // configuration uses this one.
                    "MULTIPART_SEMICOLON_MISSING" => Some(Var::MultipartMissingSemicolon),
                    _ => None,
                }
            }
            pub fn name(self) -> &'static str {
                match self { $(Var::$v => $n,)* }
            }
            /// Whether the variable is a keyed collection (`ARGS:foo` selects one member).
            pub fn is_collection(self) -> bool {
                match self { $(Var::$v => $coll,)* }
            }
        }
    };
}

vars! {
    Args => "ARGS", true;
    ArgsGet => "ARGS_GET", true;
    ArgsPost => "ARGS_POST", true;
    ArgsNames => "ARGS_NAMES", true;
    ArgsGetNames => "ARGS_GET_NAMES", true;
    ArgsPostNames => "ARGS_POST_NAMES", true;
    ArgsCombinedSize => "ARGS_COMBINED_SIZE", false;
    RequestHeaders => "REQUEST_HEADERS", true;
    RequestHeadersNames => "REQUEST_HEADERS_NAMES", true;
    RequestCookies => "REQUEST_COOKIES", true;
    RequestCookiesNames => "REQUEST_COOKIES_NAMES", true;
    RequestUri => "REQUEST_URI", false;
    RequestUriRaw => "REQUEST_URI_RAW", false;
    RequestFilename => "REQUEST_FILENAME", false;
    RequestBasename => "REQUEST_BASENAME", false;
    RequestLine => "REQUEST_LINE", false;
    RequestMethod => "REQUEST_METHOD", false;
    RequestProtocol => "REQUEST_PROTOCOL", false;
    QueryString => "QUERY_STRING", false;
    RequestBody => "REQUEST_BODY", false;
    RequestBodyLength => "REQUEST_BODY_LENGTH", false;
    FullRequest => "FULL_REQUEST", false;
    FullRequestLength => "FULL_REQUEST_LENGTH", false;
    Files => "FILES", true;
    FilesNames => "FILES_NAMES", true;
    FilesSizes => "FILES_SIZES", true;
    FilesCombinedSize => "FILES_COMBINED_SIZE", false;
    FilesTmpNames => "FILES_TMPNAMES", true;
    FilesTmpContent => "FILES_TMP_CONTENT", true;
    MultipartPartHeaders => "MULTIPART_PART_HEADERS", true;
    MultipartFilename => "MULTIPART_FILENAME", false;
    MultipartName => "MULTIPART_NAME", false;
    MultipartStrictError => "MULTIPART_STRICT_ERROR", false;
    MultipartUnmatchedBoundary => "MULTIPART_UNMATCHED_BOUNDARY", false;
    MultipartBoundaryQuoted => "MULTIPART_BOUNDARY_QUOTED", false;
    MultipartBoundaryWhitespace => "MULTIPART_BOUNDARY_WHITESPACE", false;
    MultipartDataBefore => "MULTIPART_DATA_BEFORE", false;
    MultipartDataAfter => "MULTIPART_DATA_AFTER", false;
    MultipartHeaderFolding => "MULTIPART_HEADER_FOLDING", false;
    MultipartLfLine => "MULTIPART_LF_LINE", false;
    MultipartCrlfLfLines => "MULTIPART_CRLF_LF_LINES", false;
    MultipartMissingSemicolon => "MULTIPART_MISSING_SEMICOLON", false;
    MultipartInvalidQuoting => "MULTIPART_INVALID_QUOTING", false;
    MultipartInvalidPart => "MULTIPART_INVALID_PART", false;
    MultipartInvalidHeaderFolding => "MULTIPART_INVALID_HEADER_FOLDING", false;
    MultipartFileLimitExceeded => "MULTIPART_FILE_LIMIT_EXCEEDED", false;
    Xml => "XML", true;
    ReqbodyProcessor => "REQBODY_PROCESSOR", false;
    ReqbodyError => "REQBODY_ERROR", false;
    ReqbodyErrorMsg => "REQBODY_ERROR_MSG", false;
    ReqbodyProcessorError => "REQBODY_PROCESSOR_ERROR", false;
    InboundDataError => "INBOUND_DATA_ERROR", false;
    OutboundDataError => "OUTBOUND_DATA_ERROR", false;
    UrlencodedError => "URLENCODED_ERROR", false;
    Tx => "TX", true;
    Ip => "IP", true;
    Global => "GLOBAL", true;
    Session => "SESSION", true;
    User => "USER", true;
    Resource => "RESOURCE", true;
    Env => "ENV", true;
    Geo => "GEO", true;
    Rule => "RULE", true;
    MatchedVarOne => "MATCHED_VAR", false;
    MatchedVars => "MATCHED_VARS", true;
    MatchedVarName => "MATCHED_VAR_NAME", false;
    MatchedVarsNames => "MATCHED_VARS_NAMES", true;
    ResponseStatus => "RESPONSE_STATUS", false;
    ResponseProtocol => "RESPONSE_PROTOCOL", false;
    ResponseHeaders => "RESPONSE_HEADERS", true;
    ResponseHeadersNames => "RESPONSE_HEADERS_NAMES", true;
    ResponseBody => "RESPONSE_BODY", false;
    ResponseContentType => "RESPONSE_CONTENT_TYPE", false;
    ResponseContentLength => "RESPONSE_CONTENT_LENGTH", false;
    StatusLine => "STATUS_LINE", false;
    RemoteAddr => "REMOTE_ADDR", false;
    RemotePort => "REMOTE_PORT", false;
    RemoteHost => "REMOTE_HOST", false;
    RemoteUser => "REMOTE_USER", false;
    ServerName => "SERVER_NAME", false;
    ServerAddr => "SERVER_ADDR", false;
    ServerPort => "SERVER_PORT", false;
    UniqueId => "UNIQUE_ID", false;
    AuthType => "AUTH_TYPE", false;
    Duration => "DURATION", false;
    HighestSeverity => "HIGHEST_SEVERITY", false;
    Time => "TIME", false;
    TimeEpoch => "TIME_EPOCH", false;
    TimeYear => "TIME_YEAR", false;
    TimeMon => "TIME_MON", false;
    TimeDay => "TIME_DAY", false;
    TimeHour => "TIME_HOUR", false;
    TimeMin => "TIME_MIN", false;
    TimeSec => "TIME_SEC", false;
    TimeWday => "TIME_WDAY", false;
    Webserver => "WEBSERVER_ERROR_LOG", false;
    Userid => "USERID", false;
    SessionId => "SESSIONID", false;
}
