/* test_tls.c: unit tests of the TLS dissector (tls.c) and certificate parser
 * (tls_cert.c) on real handshake bytes (RFC 5246, RFC 8446, RFC 5280).
 *
 * Vectors: captured on loopback with tshark while `openssl s_server` (EC
 * P-256 self-signed cert, CN=test.example) talked to `openssl s_client`
 * (OpenSSL 3.0), plus two ClientHellos from the public corpus. Expected JA3
 * values are tshark 4.0's tls.handshake.ja3 on the same bytes; expected
 * certificate fields are `openssl x509 -text/-fingerprint` output.
 */
#include "dissectors/tls.h"
#include "dissectors/tls_cert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "unit.h"

/* TLS 1.2 ClientHello (openssl s_client -tls1_2 -servername test.example -alpn h2,http/1.1): 227 bytes */
static const char t12_ch_hex[] =
	"16030100de010000da03032d50aad0bd9edd64e037beac6cf40e3e3a6cc31a21"
	"89bfd5aa3cd6ed22052944000038c02cc030009fcca9cca8ccaac02bc02f009e"
	"c024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c"
	"0035002f00ff0100007900000011000f00000c746573742e6578616d706c6500"
	"0b000403000102000a000c000a001d0017001e00190018002300000010000e00"
	"0c02683208687474702f312e310016000000170000000d002a00280403050306"
	"03080708080809080a080b080408050806040105010601030303010302040205"
	"020602";

/* TLS 1.2 server flight: ServerHello, Certificate (EC P-256), ServerKeyExchange, ServerHelloDone: 748 bytes */
static const char t12_srv1_hex[] =
	"16030300410200003d0303346a6c9af2c2076140aae1268a8252f3446fddc1c4"
	"86817a6e5bb92c03ca075d00c02c000015ff01000100000b0004030001020023"
	"00000017000016030302200b00021c00021900021630820212308201b8a00302"
	"010202141d13ff8883a9dc4afd9de4c7c90055c3596a2563300a06082a8648ce"
	"3d040302303c310b300906035504061302465231163014060355040a0c0d5069"
	"6e737065637420546573743115301306035504030c0c746573742e6578616d70"
	"6c65301e170d3236313132343030353030365a170d3436313131393030353030"
	"365a303c310b300906035504061302465231163014060355040a0c0d50696e73"
	"7065637420546573743115301306035504030c0c746573742e6578616d706c65"
	"3059301306072a8648ce3d020106082a8648ce3d0301070342000469c0d122df"
	"d9bfd887c3695109cd73dd60d70fc760c4c920e19f7b3758cd71bdfd329d9f31"
	"b25e2b2f4eed15468e440dc35e8ccced10a186db1549507478aa34a381973081"
	"94301d0603551d0e041604140a5afebd519807e5af859f26e744504960428969"
	"301f0603551d230418301680140a5afebd519807e5af859f26e7445049604289"
	"69302f0603551d1104283026820c746573742e6578616d706c6582107777772e"
	"746573742e6578616d706c6587047f000001300c0603551d130101ff04023000"
	"30130603551d25040c300a06082b06010505070301300a06082a8648ce3d0403"
	"020348003045022100da13c32d917e992f7b3176d5321f49b5da2ef7f7278e6d"
	"2657778462cd2863ba022011c20631a02d9350da1c3331fc102b2df84a419526"
	"b19c7a2080622181b7750b16030300730c00006f03001d202d76dc13c8237844"
	"bde7d39cf3710a4cd259d6febf2d67f3239a73c3ac40a25f0403004730450220"
	"37c583a1bb02a35611acadd7b4115494f353de39b5b9016e8ca7a940dd51b0fe"
	"022100d64b57dbd55d564742df700fe36c6ba766251ac7c8ab31ca7cbac838b2"
	"b50d8b16030300040e000000";

/* TLS 1.2 client: ClientKeyExchange, ChangeCipherSpec, encrypted Finished: 93 bytes */
static const char t12_cli2_hex[] =
	"16030300251000002120547f4358d0a2f2529393af84e63dd6e768f7a0d67b5c"
	"e1382a0fabbabd84f104140303000101160303002866a86fc24bf517ac00bc9c"
	"f7eb63e79c437c8baff8dd96a79cd35b2b53b008f73f42378a8b52e35b";

/* TLS 1.2 server: NewSessionTicket, ChangeCipherSpec, encrypted Finished: 242 bytes */
static const char t12_srv2_hex[] =
	"16030300ba040000b600001c2000b00422504e84ee1f6175fa2306d0a010fb82"
	"74e5e66d37b031b8a1442e137d290ebad51d38813b2ae55ec3697a71beb8d9b2"
	"c60ad3ec467b882a6a1af6da96cf29c5841cf4f7ae270de8d6f7afc8d4aa244e"
	"3c2170f566118945765d40a07e5f2712b9323a11d9db42cf64d808560232885e"
	"9c93317dfad17bfd2b8deaff0c2fe47836e5cca1bf62ff857f94dcc4e5aab708"
	"2c746d7d4a3523f3722898269fbcc667123465cef93d54c6e174fc98c7941b14"
	"0303000101160303002852a9fa54a9bc99ee0838a3f309d8d133aa8086b7b94e"
	"3f32209bc0740e644ce4f7386807b703baee";

/* TLS 1.2 client application data: 35 bytes */
static const char t12_cli_data_hex[] =
	"170303001e66a86fc24bf517ad99ef2cb1d1147cebe9491f809257adedcd408e"
	"b7575d";

/* TLS 1.2 client encrypted alert (close_notify): 31 bytes */
static const char t12_cli_close_hex[] =
	"150303001a66a86fc24bf517aeb5c619e3f35051fdb55d5a2d93463119dd08";

/* TLS 1.2 client plaintext fatal alert unknown_ca (s_client -verify_return_error): 7 bytes */
static const char t12_unknown_ca_hex[] =
	"15030300020230";

/* TLS 1.3 ClientHello (openssl s_client -servername test.example -alpn h2): 327 bytes */
static const char t13_ch_hex[] =
	"16030101420100013e0303bc1d1ac926f1c7df021cf229c2b1fd43f90425734b"
	"3e2f27c367e50bb8e47e38201bf7f218f1f8bb76088d0986e8cae3a5a8c7f074"
	"752b23c677ee47576039fc76003e130213031301c02cc030009fcca9cca8ccaa"
	"c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d"
	"009c003d003c0035002f00ff010000b700000011000f00000c746573742e6578"
	"616d706c65000b000403000102000a00160014001d0017001e00190018010001"
	"01010201030104002300000010000500030268320016000000170000000d002a"
	"0028040305030603080708080809080a080b0804080508060401050106010303"
	"03010302040205020602002b0009080304030303020301002d00020101003300"
	"260024001d002006af3d48bb7c1cd55fc70ed1c6f48cd97fda925870b024e603"
	"482824ec8f8f50";

/* TLS 1.3 server: ServerHello, CCS, 4 encrypted records: 906 bytes */
static const char t13_srv1_hex[] =
	"160303007a0200007603038458365289301a4b3c34636e01a7430e68f05af50f"
	"a6d0cb069f6c8f9025716a201bf7f218f1f8bb76088d0986e8cae3a5a8c7f074"
	"752b23c677ee47576039fc76130200002e002b0002030400330024001d00206b"
	"f190a75b7f12fbe710ce39634e10da77276ef78767ebab996cfba9edba737514"
	"03030001011703030017cabacdb72cdc95d8845129372e3db1ad710fb4c8cab7"
	"281703030234a10332bd3c817d7980401a4a29b470dea77c74bb5a2d37b1173b"
	"9f03549ea51e6aa7729b79b2981f3df17477bb7301e91185247019597f424f03"
	"cee8caf94f88ceedc9f68037dbeaca4624d4b713ee2e38674171fd9076aea7af"
	"ae6e0babd93df275fc375dc651d82ef35836f7f2e80dbd81ac4478327435345a"
	"e386de44b1f869de977f4e268371ac63741aa3142300b3075411f4344f71ffaf"
	"8a28324c19ff7a057ee4eff93a32b2718aec208d96c8cde3f61ee5c222b01f25"
	"7458ac5cc38582c751e824f2b397897e891044d417fca3100e6f2bdff939eebe"
	"29d5687d7a763dd54bfe0ffc340566289b1e15408a2d6a023db691c22d00d702"
	"830e2a9cb696f57914979a307652e65d0477571755d9b91dc0b3496ef6999c8d"
	"13816f695006096d49db0e77d14ffb31b89798e7c836e451a8800c111de45bd7"
	"457df33118be54cbc9682ae5bde63a111ba55449b71b360017041a80e4aa5d2b"
	"783ae38150d70e1c5818947f287f8742c012d3a94ad972f2b4e852a4ffe0c4a1"
	"7daa4f05782c1d8e336dc32e08575ce5ea5aa4958d38e713613843b0d1856ff6"
	"b83083d1d2001a1e003fc20d6178fa1f4f8dfe844bb7144e6ac1acfca6c22133"
	"84a06cdedeb3e4bdccdfa7b1fb07e229f9118b4eb30edd5668b5edb99e5203ba"
	"576a9f06c272027a8b7fb2177b68c2478112fabfa475b9418bb0c22d993e9327"
	"6156d21b959ad82e29cb42424f2de7d0b367a1c564afed6c4b0b5e19e79aa776"
	"40bf5bde77be2c634adcb1f8ec3f6cb74f70b124c1d03ae946c3170303006149"
	"5b058cffbea68e204cb6170f5c622b67a4098d0a653e2a12b351748639dd7fa5"
	"5922d46f76f2c6bb63fdd9097eddc3df8f1303413a4d9cfc6ddb53723c7e8197"
	"ff54f58403f67add6424f4126520ae4fb5b8cf3cb369adbee7b139ad0c0e063c"
	"170303004542f2451ec2be46c80c4a4e5f944f5cf68f68f43bebd149cbc857a5"
	"8cdfaa46699a3d84afb9890eee61c780557322a3ef723ad50246a9d30d294e19"
	"210f11d85f6fd186e8cd";

/* TLS 1.3 client: CCS, encrypted Finished: 80 bytes */
static const char t13_cli2_hex[] =
	"140303000101170303004559efce67d8cc434d08bcd29d1bc96d88d69874cdcb"
	"34bd439941347cd9469f404115e1de5209f8dff30c23a6ec76d1cd289de707b2"
	"6997894c7c373076d178ff8089c5bb56";

/* TLS 1.3 client encrypted close_notify: a 24-byte record: 24 bytes */
static const char t13_cli_close_hex[] =
	"1703030013ad038aa695c16b71c3db38e4f8a262eef6a5e2";

/* ClientHello with an X25519 key share only (server wants P-256): 302 bytes */
static const char hrr_ch1_hex[] =
	"160301012901000125030359aea16a34543ea44ceaf99aaff12223657eac4f6f"
	"bdd3e384f7ec484ce13c2b20778a6646ca72ddb4e796abab85ee3ce3a29fd815"
	"1fdb42f4b340a2dc120bd906003e130213031301c02cc030009fcca9cca8ccaa"
	"c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d"
	"009c003d003c0035002f00ff0100009e00000011000f00000c746573742e6578"
	"616d706c65000b000403000102000a00060004001d0017002300000016000000"
	"170000000d002a0028040305030603080708080809080a080b08040805080604"
	"0105010601030303010302040205020602002b0009080304030303020301002d"
	"00020101003300260024001d0020cff82836d088c68c052c20f78b6d8f8b3bc2"
	"c66b678d37abdbfe179bf7295c0a";

/* HelloRetryRequest, CCS: 99 bytes */
static const char hrr_srv1_hex[] =
	"1603030058020000540303cf21ad74e59a6111be1d8c021e65b891c2a211167a"
	"bb8c5e079e09e2c8a8339c20778a6646ca72ddb4e796abab85ee3ce3a29fd815"
	"1fdb42f4b340a2dc120bd906130200000c002b00020304003300020017140303"
	"000101";

/* client CCS, second ClientHello: 341 bytes */
static const char hrr_cli2_hex[] =
	"140303000101160303014a01000146030359aea16a34543ea44ceaf99aaff122"
	"23657eac4f6fbdd3e384f7ec484ce13c2b20778a6646ca72ddb4e796abab85ee"
	"3ce3a29fd8151fdb42f4b340a2dc120bd906003e130213031301c02cc030009f"
	"cca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009"
	"c0130033009d009c003d003c0035002f00ff010000bf00000011000f00000c74"
	"6573742e6578616d706c65000b000403000102000a00060004001d0017002300"
	"000016000000170000000d002a0028040305030603080708080809080a080b08"
	"0408050806040105010601030303010302040205020602002b00090803040303"
	"03020301002d0002010100330047004500170041041611f38b7f41784de2875f"
	"8b13169724ad2ae2ea364363e38942c1eb024c9a2b19ae32dde3ce04389ae892"
	"fd792793c759e007b38e342288db41d799175bc685";

/* ServerHello, 4 encrypted records: 931 bytes */
static const char hrr_srv2_hex[] =
	"160303009b0200009703035fcdeb0283bc3960722e3b56fb5466b16e75fea3a2"
	"3790c575b0e6bc0c63123220778a6646ca72ddb4e796abab85ee3ce3a29fd815"
	"1fdb42f4b340a2dc120bd906130200004f002b00020304003300450017004104"
	"35fb9ef2996a02da610b884cf2a190267bd89478abb1ac8dc86c345351ec22be"
	"c9bab722d32de68e0d4325742216dbfeb894f358d316dd72be210765cf577c7c"
	"170303001767856bdb0354ae4727cb4d9f4d7323494290e422bce31117030302"
	"34915d3c3cbefc237ba6661df5760a7db305f1031a54cfb310b3a905690b7456"
	"554110fe884ead35f0e0c7ff4807dce41f13602285c7ad32fdc727e7e6ead0b0"
	"1630df1b6fca844858927c8110d3d8b0e79a7a73d5e6c46a1895398342dfe82e"
	"01d38951078e174be94668083b87b08fe5dbd7be7c8e7e50f9daaeea3cb71284"
	"da16c8ec14e3036a00233076b6043e76af64b540f991308c44929115a61a6aa6"
	"584f1cf4310ee62b6030afd9d063cc6f4e4fc9cd9bf4a02051e0b8029e3a66c8"
	"c33bc36be17f62e5d44cb2523947b39869e4bc934743cd851b80dfe39af7c3e9"
	"647611f037435160bc5d7392943ba91e755e04b1a296f46c8315babead5c3fac"
	"608bc479f064e1093c057a3cf35d1ef67b2d932265f088c28eca1999218696d1"
	"01beafe601150fb079120a1a0d3374b492de6e0e6545ab00101dba8dc3397372"
	"b425120a5b9256ecc0d98934190293866a93b5f206340b76e3a281108fd4bb7d"
	"11a3f27f74c3adc05ca6135e39347c50f5ced525a870ef5b62d2161793e971c9"
	"042c5444b7e418c7b834d7a732a4d7427f2b3832f7f2aa6fb7ac49d381a39492"
	"dd585b1cd462fb43b1f52ea5c559cb76961c8d3b0cfd9e79ec12dd3ce36b8ce3"
	"d31c0fc60396a3d7ea4559c15a1a1da362f1961ca292abe8923e80c18b9f6ed8"
	"a5eeb80a80e5d5dc74176c77af7ef22dd79e404272905de6a321fd89c0b6283b"
	"7dc1ae1426efa2a177981f265c903a3ca5295aaa10b97f09af0dc56d9f435fef"
	"2411032f5fc624af1879fff37a312dc3db7b438ead170303005f6eaf80f61c6d"
	"6470651856d1196e9ec850c27beb04819b27a4e3d5adca21bd74493a359c723e"
	"44915033193932ae18ea5540fcb88170f92915ada133cf04ca7e8d4ab2470bdd"
	"a41260fef57180cb02e56f39b91e5a4a12d039ca5805ab841817030300457217"
	"f37c3ea72a54532f884439366917225541963a114d38b0ffe8d80c79add446c9"
	"aa9ed5640ae6e3a662afa167af8d70cf0487032faff668584e3ebbc6009f6ada"
	"c99c67";

/* ClientHello with GREASE and encrypted_client_hello (zeek-tls13-ech.pcap frame 7): 517 bytes */
static const char ech_ch_hex[] =
	"1603010200010001fc0303d820986a1fb4dc3a70fac91f1359ff5e320c6a5e07"
	"397ab36f8c513be4585f5d207c77f968ecbeda040598f47af5265fb5f0f5ef32"
	"79f08b43d03c31a57ce0c63000202a2a130113021303c02bc02fc02cc030cca9"
	"cca8c013c014009c009d002f003501000193dada0000ff010001000010000e00"
	"0c02683208687474702f312e31000d0012001004030804040105030805050108"
	"0606010033002b00291a1a000100001d0020231cb3a7bde0d15d97dfdfc4d315"
	"b112899e9480d1dc7a0e739c4058bbe7276d002d000201014469000500030268"
	"3200230000002b0007068a8a03040303000a000a00081a1a001d00170018fe0d"
	"00ba0000010001d10020cce5c83299bb8dffdb74bafd0a1d524b82973e224c12"
	"999beed169ee7a9ad67d00900b7b2dc3b17adb2eabc1f7fabb61bdd5db777336"
	"a9da3679c5373ff69f0087b9453bd3ec42b6d17b1b7d024cd7c4b627d1b0cd3a"
	"e9fbe5422f132187789d6c7f89f29201ff0e64853d3988adb723fff552447ebd"
	"087a55422abe568a8dfe4596a5820f134ec9f192620e4b36776431e14e35a6c9"
	"ddbe912359b1bde0d74a062e634eb5ced3063bed83f0b562f262780300170000"
	"00050005010000000000120000000b00020100000000170015000012636c6f75"
	"64666c6172652d6563682e636f6d001b00030200029a9a000100001500070000"
	"0000000000";

/* SSLv2-format ClientHello (zeek-ssl-v2.pcap frame 4): 48 bytes */
static const char v2_ch_hex[] =
	"802e0100020015000000100700c0050080030080010080060040040080020080"
	"1c30e2b12f4c04525476f280c07abee5";
/* SSLv2 SERVER-HELLO with an RSA certificate (zeek-ssl-v2.pcap frame 6): 950 bytes */
static const char v2_sh_hex[] =
	"83b40400010002038700120010308203833082026b02044eb6f269300d06092a"
	"864886f70d0101050500308185310b30090603550406130255533111300f0603"
	"550408130856697267696e69613110300e060355040713074865726e646f6e31"
	"123010060355040a1309506172616c6c656c73310e300c060355040b1305506c"
	"65736b310e300c06035504031305706c65736b311d301b06092a864886f70d01"
	"0901160e696e666f40706c65736b2e636f6d301e170d31313131303632303437"
	"33375a170d3132313130353230343733375a308185310b300906035504061302"
	"55533111300f0603550408130856697267696e69613110300e06035504071307"
	"4865726e646f6e31123010060355040a1309506172616c6c656c73310e300c06"
	"0355040b1305506c65736b310e300c06035504031305706c65736b311d301b06"
	"092a864886f70d010901160e696e666f40706c65736b2e636f6d30820122300d"
	"06092a864886f70d01010105000382010f003082010a0282010100a3a1ce479c"
	"b1b47d77a605f052c6e8f4776734e0400d5d7f92dc8f6377fe7264d7e561d93e"
	"9d726a13931f4e623bfb71849f19daba218c1a9427998f1927dfcc8b27461f75"
	"659705d3ed0e4c1978d910328ba63542e84f6d74e7645cf0be5317012f5f69cb"
	"3cc897f6bfce0d864bb06ac08169eab79559246ab8bda0eb4a135212741a6679"
	"c4d482f2b3e2d6f9b41ffd26a44b89ad41a3d8950b0063030b6bf66aa05df0fc"
	"7f19c9c4571d2aac768709236333a4b740da6ccda771126b8f81d46ca30d5462"
	"d2022706b0ae1fd8d7aa27c896c8c95cfba2647594cc0869a8f360ee7332a221"
	"db4d6a3f29abbd16cf631a95f722df024aaff4bb7da89aa2b5c9f10203010001"
	"300d06092a864886f70d0101050500038201010038dfc76790eba15676bae451"
	"752a7f2f2734297d231cf9b5db2bc3882c621aeef34f05210127abb61a431277"
	"34527fbdad15b2b95785942f9ff9b13a67f0399b8f1aab043838c8e121bc1afb"
	"68de357f0788951eb5d8996c9aa79a153bfa5cba82246abf10e755a56a3b2162"
	"6efa84f4169547520e1bf56022b15cf1c90379220ccea86d75bef27913852aac"
	"d51d0e67d341d80e9c04becf9d0679816703117469dc6e993f2b8b35050a76b9"
	"ba7a66047cde633aae47eba0a34bb712bdb297bc52eb0bf35e3ecd3261ce288f"
	"d4804d254d72e9203cf4470eec20f892cbef3c69d1436daa670975527b161833"
	"381d0d2039ff4c7d41159e1c392c58afbb533ffd0700c0030080010080060040"
	"040080020080b01a19a135e793cebecd5204d9e0c699";


/* ---- helpers ---- */

static uint8_t *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];
			v = (v << 4) | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
		}
		b[i] = (uint8_t)v;
	}
	*len = n;
	return b;
}

struct vec {
	uint8_t *p;
	size_t n;
};

static struct vec V(const char *hex)
{
	struct vec v;
	v.p = unhex(hex, &v.n);
	return v;
}

#define MAX_EV 512

/* Records every event with copies of the hello state at that moment. */
struct rec {
	struct tls_state st;
	struct pi_caps caps;
	int n;
	struct tls_event ev[MAX_EV];
	struct tls_client_hello ch[MAX_EV];
	struct tls_server_hello sh[MAX_EV];
};

static void rec_cb(void *ctx, const struct tls_event *ev)
{
	struct rec *r = ctx;
	if (r->n >= MAX_EV)
		return;
	r->ev[r->n] = *ev;
	r->ch[r->n] = r->st.ch;
	r->sh[r->n] = r->st.sh;
	r->n++;
}

static struct rec *rec_new(void)
{
	struct rec *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	tls_init(&r->st, rec_cb, r, &r->caps);
	return r;
}

static void rec_free(struct rec *r)
{
	tls_free(&r->st);
	free(r);
}

static void feed(struct rec *r, int dir, struct vec v, uint64_t frame)
{
	tls_feed(&r->st, dir, v.p, v.n, frame, frame * 1000);
}

static void feed_bytewise(struct rec *r, int dir, struct vec v, uint64_t frame)
{
	for (size_t i = 0; i < v.n; i++)
		tls_feed(&r->st, dir, v.p + i, 1, frame, frame * 1000);
}

static uint32_t lcg_state = 12345;
static uint32_t lcg(void)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return lcg_state >> 8;
}

static void feed_random_chunks(struct rec *r, int dir, struct vec v, uint64_t frame)
{
	size_t i = 0;
	while (i < v.n) {
		size_t k = 1 + lcg() % 97;
		if (k > v.n - i)
			k = v.n - i;
		tls_feed(&r->st, dir, v.p + i, k, frame, frame * 1000);
		i += k;
	}
}

static int count(const struct rec *r, enum tls_ev_type t)
{
	int c = 0;
	for (int i = 0; i < r->n; i++)
		c += r->ev[i].type == t;
	return c;
}

static int count_anomaly(const struct rec *r, enum tls_anomaly a)
{
	int c = 0;
	for (int i = 0; i < r->n; i++)
		c += r->ev[i].type == TLS_EV_ANOMALY && r->ev[i].anomaly == a;
	return c;
}

/* Index of the nth (0-based) event of type t, -1 if none. */
static int find(const struct rec *r, enum tls_ev_type t, int nth)
{
	for (int i = 0; i < r->n; i++)
		if (r->ev[i].type == t && nth-- == 0)
			return i;
	return -1;
}

/* Same events in the same order (frames and timestamps aside)? */
static int same_events(const struct rec *a, const struct rec *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++) {
		struct tls_event x = a->ev[i], y = b->ev[i];
		struct tls_client_hello cx = a->ch[i], cy = b->ch[i];
		struct tls_server_hello sx = a->sh[i], sy = b->sh[i];
		x.frame = y.frame = 0;
		x.ts_ns = y.ts_ns = 0;
		cx.frame = cy.frame = 0;
		sx.frame = sy.frame = 0;
		if (memcmp(&x, &y, sizeof x) || memcmp(&cx, &cy, sizeof cx) || memcmp(&sx, &sy, sizeof sx))
			return 0;
	}
	return 1;
}

/* Byte builder for synthetic records. */
struct buf {
	uint8_t b[70000];
	size_t n;
};

static void put8(struct buf *b, unsigned v) { b->b[b->n++] = (uint8_t)v; }
static void put16(struct buf *b, unsigned v) { put8(b, v >> 8); put8(b, v & 0xff); }
static void put24(struct buf *b, unsigned v) { put8(b, v >> 16); put16(b, v & 0xffff); }
static void putn(struct buf *b, const void *p, size_t n) { memcpy(b->b + b->n, p, n); b->n += n; }
static void putfill(struct buf *b, unsigned v, size_t n) { memset(b->b + b->n, (int)v, n); b->n += n; }

/* A record of type t holding body[0..n). */
static void put_record(struct buf *b, unsigned t, const uint8_t *body, size_t n)
{
	put8(b, t);
	put16(b, 0x0303);
	put16(b, (unsigned)n);
	if (n)
		putn(b, body, n);
}

static struct vec bv(const struct buf *b)
{
	struct vec v;
	v.p = (uint8_t *)b->b;
	v.n = b->n;
	return v;
}

/* The handshake messages of a vector made of handshake records (the
 * record headers stripped), for re-splitting into other records. */
static size_t hs_payload(struct vec v, uint8_t *out)
{
	size_t i = 0, o = 0;
	while (i + 5 <= v.n) {
		size_t len = ((size_t)v.p[i + 3] << 8) | v.p[i + 4];
		if (v.p[i] == TLS_CT_HANDSHAKE) {
			memcpy(out + o, v.p + i + 5, len);
			o += len;
		}
		i += 5 + len;
	}
	return o;
}

/* Re-pack handshake bytes into records of at most per bytes. */
static void repack(struct buf *b, const uint8_t *hs, size_t n, size_t per)
{
	b->n = 0;
	for (size_t i = 0; i < n; i += per)
		put_record(b, TLS_CT_HANDSHAKE, hs + i, n - i < per ? n - i : per);
}

/* ---- tests ---- */

static const char T12_JA3[] = "22558766122974704364c9c75c5cce0a";
static const char T12_JA3_STR[] =
	"771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-"
	"49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,"
	"0-11-10-35-16-22-23-13,29-23-30-25-24,0-1-2";

static void test_probe(void)
{
	struct vec ch = V(t12_ch_hex), v2 = V(v2_ch_hex);
	static const uint8_t get[] = "GET / HTTP/1.1\r\n";
	static const uint8_t longrec[] = { 0x16, 0x03, 0x01, 0xff, 0xff };
	static const uint8_t v4[] = { 0x16, 0x04, 0x00, 0x00, 0x10 };
	static const uint8_t ok24[] = { 0x18, 0x03, 0x03, 0x00, 0x03 };
	CHECK_EQ_INT(tls_probe(ch.p, ch.n), PI_OK);
	CHECK_EQ_INT(tls_probe(ch.p, 5), PI_OK);
	for (size_t k = 0; k < 5; k++)
		CHECK_EQ_INT(tls_probe(ch.p, k), PI_NEED_MORE);
	CHECK_EQ_INT(tls_probe(v2.p, v2.n), PI_OK);
	CHECK_EQ_INT(tls_probe(v2.p, 2), PI_NEED_MORE);
	CHECK_EQ_INT(tls_probe(get, sizeof get - 1), PI_INVALID);
	CHECK_EQ_INT(tls_probe(get, 1), PI_INVALID);
	CHECK_EQ_INT(tls_probe(longrec, sizeof longrec), PI_INVALID);
	CHECK_EQ_INT(tls_probe(longrec, 4), PI_NEED_MORE);
	CHECK_EQ_INT(tls_probe(v4, sizeof v4), PI_INVALID);
	CHECK_EQ_INT(tls_probe(ok24, sizeof ok24), PI_OK);
	CHECK_EQ_INT(tls_probe(NULL, 0), PI_NEED_MORE);
	free(ch.p);
	free(v2.p);
}

static void test_names(void)
{
	char buf[16];
	CHECK_EQ_STR(tls_alert_name(48), "unknown_ca");
	CHECK_EQ_STR(tls_alert_name(0), "close_notify");
	CHECK_EQ_STR(tls_alert_name(20), "bad_record_mac");
	CHECK_EQ_STR(tls_alert_name(40), "handshake_failure");
	CHECK_EQ_STR(tls_alert_name(42), "bad_certificate");
	CHECK_EQ_STR(tls_alert_name(46), "certificate_unknown");
	CHECK_EQ_STR(tls_alert_name(86), "inappropriate_fallback");
	CHECK_EQ_STR(tls_alert_name(90), "user_canceled");
	CHECK_EQ_STR(tls_alert_name(112), "unrecognized_name");
	CHECK_EQ_STR(tls_alert_name(116), "certificate_required");
	CHECK_EQ_STR(tls_alert_name(120), "no_application_protocol");
	CHECK_EQ_STR(tls_alert_name(121), "ech_required");
	CHECK_EQ_STR(tls_alert_name(1), "alert_1");
	CHECK_EQ_STR(tls_alert_name(255), "alert_255");
	CHECK_EQ_STR(tls_version_name(0x0300), "SSL 3.0");
	CHECK_EQ_STR(tls_version_name(0x0002), "SSL 2.0");
	CHECK_EQ_STR(tls_version_name(0x0301), "TLS 1.0");
	CHECK_EQ_STR(tls_version_name(0x0303), "TLS 1.2");
	CHECK_EQ_STR(tls_version_name(0x0304), "TLS 1.3");
	CHECK_EQ_STR(tls_version_name(0x7f12), "TLS 1.3 draft 18");
	CHECK_EQ_STR(tls_version_name(0x7f1c), "TLS 1.3 draft 28");
	CHECK_EQ_STR(tls_version_name(0x7fff), "TLS 1.3 draft 255");
	CHECK_EQ_STR(tls_version_name(0xfb1a), "TLS 1.3 (Facebook)");
	CHECK_EQ_STR(tls_version_name(0x5a5a), "GREASE");
	CHECK_EQ_STR(tls_version_name(0x1234), "unknown");
	CHECK_EQ_STR(tls_version_str(0x1234, buf, sizeof buf), "0x1234");
	CHECK_EQ_STR(tls_version_str(0xabcd, buf, sizeof buf), "0xabcd");
	CHECK_EQ_STR(tls_version_str(0x0303, buf, sizeof buf), "TLS 1.2");
	CHECK_EQ_STR(tls_version_str(0x1234, buf, 3), "");
	CHECK_EQ_STR(tls_anomaly_name(TLS_AN_RECORD_TOO_LONG), "record_too_long");
	CHECK_EQ_STR(tls_anomaly_name(TLS_AN_GAP), "gap");
	CHECK_EQ_STR(tls_anomaly_name(TLS_AN_COUNT), "unknown");
	for (int a = 0; a < TLS_AN_COUNT; a++)
		CHECK(strcmp(tls_anomaly_name((enum tls_anomaly)a), "unknown") != 0);
}

static void test_client_hello(void)
{
	struct vec ch = V(t12_ch_hex);
	struct rec *r = rec_new();
	int i;
	feed(r, TLS_DIR_C2S, ch, 4);
	CHECK_EQ_INT(r->n, 1);
	i = find(r, TLS_EV_CLIENT_HELLO, 0);
	CHECK(i == 0);
	if (i == 0) {
		CHECK_EQ_INT(r->ev[0].dir, TLS_DIR_C2S);
		CHECK_EQ_INT(r->ev[0].content_type, TLS_CT_HANDSHAKE);
		CHECK_EQ_INT(r->ev[0].record_version, 0x0301);
		CHECK_EQ_INT(r->ev[0].record_len, 222);
		CHECK_EQ_INT(r->ev[0].hs_type, TLS_HS_CLIENT_HELLO);
		CHECK_EQ_INT(r->ev[0].frame, 4);
		CHECK_EQ_INT(r->ev[0].ts_ns, 4000);
	}
	CHECK(r->st.saw_ch);
	CHECK_EQ_INT(r->st.ch.legacy_version, 0x0303);
	CHECK_EQ_INT(r->st.ch.max_version, 0x0303);
	CHECK_EQ_STR(r->st.ch.sni, "test.example");
	CHECK_EQ_STR(r->st.ch.alpn, "h2,http/1.1");
	CHECK_EQ_STR(r->st.ch.ja3_str, T12_JA3_STR);
	CHECK_EQ_STR(r->st.ch.ja3, T12_JA3);
	CHECK_EQ_INT(r->st.ch.has_ech, 0);
	CHECK_EQ_INT(r->st.ch.sslv2, 0);
	CHECK_EQ_INT(r->st.ch.frame, 4);
	/* a CH needs no buffer when it arrives whole */
	CHECK(r->st.d[0].body == NULL && r->st.d[0].hs == NULL);
	rec_free(r);
	free(ch.p);
}

/* GREASE (RFC 8701) everywhere, ECH outer hello, supported_versions. */
static void test_grease_ech(void)
{
	struct vec ch = V(ech_ch_hex);
	struct rec *r = rec_new();
	feed(r, TLS_DIR_C2S, ch, 7);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 1);
	CHECK_EQ_INT(r->n, 1);
	CHECK_EQ_STR(r->st.ch.sni, "cloudflare-ech.com");
	CHECK_EQ_STR(r->st.ch.alpn, "h2,http/1.1");
	CHECK_EQ_INT(r->st.ch.has_ech, 1);
	CHECK_EQ_INT(r->st.ch.legacy_version, 0x0303);
	CHECK_EQ_INT(r->st.ch.max_version, 0x0304);  /* 0x8a8a ignored */
	CHECK_EQ_STR(r->st.ch.ja3_str,
	             "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-"
	             "157-47-53,65281-16-13-51-45-17513-35-43-10-65037-23-5-18-11-0-27-21,"
	             "29-23-24,0");
	CHECK_EQ_STR(r->st.ch.ja3, "2fcbf8655473005933c5869b2b5d8044");
	rec_free(r);
	free(ch.p);
}

/* 1 byte at a time, random chunks and every 2-chunk split: same events. */
static void test_chunking(void)
{
	struct vec ch = V(t12_ch_hex), s1 = V(t12_srv1_hex), c2 = V(t12_cli2_hex), s2 = V(t12_srv2_hex);
	struct rec *whole = rec_new(), *bytes = rec_new(), *rnd = rec_new();
	feed(whole, 0, ch, 1);
	feed(whole, 1, s1, 2);
	feed(whole, 0, c2, 3);
	feed(whole, 1, s2, 4);
	feed_bytewise(bytes, 0, ch, 1);
	feed_bytewise(bytes, 1, s1, 2);
	feed_bytewise(bytes, 0, c2, 3);
	feed_bytewise(bytes, 1, s2, 4);
	feed_random_chunks(rnd, 0, ch, 1);
	feed_random_chunks(rnd, 1, s1, 2);
	feed_random_chunks(rnd, 0, c2, 3);
	feed_random_chunks(rnd, 1, s2, 4);
	CHECK_EQ_INT(whole->n, 11);
	CHECK(same_events(whole, bytes));
	CHECK(same_events(whole, rnd));
	CHECK_EQ_STR(bytes->st.ch.ja3, T12_JA3);
	CHECK_EQ_INT(bytes->st.certs.kept, 1);
	CHECK(bytes->st.certs.kept == 1 && whole->st.certs.kept == 1 &&
	      bytes->st.certs.len[0] == whole->st.certs.len[0] &&
	      memcmp(bytes->st.certs.der + bytes->st.certs.off[0], whole->st.certs.der + whole->st.certs.off[0],
	             whole->st.certs.len[0]) == 0);
	rec_free(whole);
	rec_free(bytes);
	rec_free(rnd);

	/* the server flight (4 records) split in two chunks at every offset */
	{
		struct rec *ref = rec_new();
		int bad = 0;
		feed(ref, 1, s1, 9);
		for (size_t k = 1; k < s1.n; k++) {
			struct rec *r = rec_new();
			tls_feed(&r->st, 1, s1.p, k, 8, 0);
			tls_feed(&r->st, 1, s1.p + k, s1.n - k, 9, 0);
			bad += !same_events(ref, r);
			rec_free(r);
		}
		CHECK_EQ_INT(bad, 0);
		rec_free(ref);
	}
	/* the same 4 messages in one record: every event comes from the
	 * chunk that completes the record */
	{
		static uint8_t hs[4096];
		static struct buf one;
		struct rec *ref = rec_new();
		int bad = 0;
		size_t n = hs_payload(s1, hs);
		repack(&one, hs, n, sizeof hs);
		feed(ref, 1, bv(&one), 9);
		CHECK_EQ_INT(ref->n, 4);
		for (size_t k = 1; k < one.n; k++) {
			struct rec *r = rec_new();
			tls_feed(&r->st, 1, one.b, k, 8, 0);
			tls_feed(&r->st, 1, one.b + k, one.n - k, 9, 0);
			bad += !same_events(ref, r);
			for (int i = 0; i < r->n; i++)
				bad += r->ev[i].frame != 9;
			rec_free(r);
		}
		CHECK_EQ_INT(bad, 0);
		rec_free(ref);
	}
	free(ch.p);
	free(s1.p);
	free(c2.p);
	free(s2.p);
}

/* Handshake messages across records, and several in one record. */
static void test_hs_across_records(void)
{
	struct vec ch = V(t12_ch_hex), s1 = V(t12_srv1_hex);
	static uint8_t hs[4096];
	static struct buf b;
	size_t n;
	struct rec *ref = rec_new(), *r;
	size_t pers[] = { 1, 2, 3, 50, 100, 221, 500, 1000, 4096 };

	/* ClientHello in 2 records */
	n = hs_payload(ch, hs);
	CHECK_EQ_INT(n, 222);
	repack(&b, hs, n, 100);
	r = rec_new();
	feed(r, 0, bv(&b), 1);
	CHECK_EQ_INT(r->n, 1);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 1);
	CHECK_EQ_STR(r->st.ch.ja3, T12_JA3);
	CHECK_EQ_STR(r->st.ch.sni, "test.example");
	/* the event names the record that completed the message */
	CHECK_EQ_INT(r->ev[0].record_len, 22);
	rec_free(r);

	/* server flight (4 messages, 1 per record as OpenSSL sends them)
	 * re-split: many records per message, many messages per record */
	feed(ref, 1, s1, 1);
	CHECK_EQ_INT(ref->n, 4);
	n = hs_payload(s1, hs);
	for (size_t i = 0; i < sizeof pers / sizeof pers[0]; i++) {
		int ok = 1;
		repack(&b, hs, n, pers[i]);
		r = rec_new();
		feed_random_chunks(r, 1, bv(&b), 1);
		ok = r->n == ref->n;
		for (int k = 0; ok && k < r->n; k++)
			ok = r->ev[k].type == ref->ev[k].type && r->ev[k].hs_type == ref->ev[k].hs_type;
		CHECK(ok);
		CHECK(r->st.certs.kept == 1 && r->st.certs.len[0] == ref->st.certs.len[0] &&
		      memcmp(r->st.certs.der + r->st.certs.off[0], ref->st.certs.der + ref->st.certs.off[0],
		             ref->st.certs.len[0]) == 0);
		CHECK_EQ_INT(r->st.anomalies[TLS_AN_BAD_HANDSHAKE], 0);
		rec_free(r);
	}
	rec_free(ref);
	free(ch.p);
	free(s1.p);
}

static void check_cert(const uint8_t *der, size_t len)
{
	struct cert_info ci;
	CHECK_EQ_INT(cert_parse(der, len, &ci), 0);
	/* `openssl x509 -noout -text -fingerprint -sha256` on the server cert */
	CHECK_EQ_STR(ci.subject, "CN=test.example,O=Pinspect Test,C=FR");
	CHECK_EQ_STR(ci.issuer, "CN=test.example,O=Pinspect Test,C=FR");
	CHECK_EQ_STR(ci.cn, "test.example");
	CHECK_EQ_STR(ci.san, "test.example,www.test.example,127.0.0.1");
	CHECK_EQ_INT(ci.san_count, 3);
	CHECK_EQ_STR(ci.key_type, "EC");
	CHECK_EQ_INT(ci.key_bits, 256);
	CHECK_EQ_STR(ci.sig_alg, "ecdsa-with-SHA256");
	CHECK_EQ_INT(ci.not_before, 1795481406);  /* Nov 24 00:50:06 2026 GMT */
	CHECK_EQ_INT(ci.not_after, 2426201406);   /* Nov 19 00:50:06 2046 GMT */
	CHECK_EQ_INT(ci.is_ca, 0);
	CHECK_EQ_INT(ci.bc_critical, 1);
	CHECK_EQ_INT(ci.has_eku, 1);
	CHECK_EQ_INT(ci.eku_server_auth, 1);
	CHECK_EQ_INT(ci.has_aki, 1);
	CHECK_EQ_INT(ci.has_ski, 1);
	CHECK_EQ_INT(ci.self_issued, 1);
	CHECK_EQ_STR(ci.ski_hex, "0a5afebd519807e5af859f26e744504960428969");
	CHECK_EQ_STR(ci.aki_hex, "0a5afebd519807e5af859f26e744504960428969");
	CHECK_EQ_STR(ci.sha256, "e0d628b0dcc3d00d811e383f348ac02bae4af74aa16013386d7f50eb1e8cbe27");
	CHECK_EQ_STR(ci.spki_sha256, "ypIXDnfABCuws5+dJ7ZcG+mPGPGNpjByG8wWL7M70vM=");
}

/* TLS 1.2 full handshake, app data, encrypted close_notify. */
static void test_tls12_session(void)
{
	struct vec ch = V(t12_ch_hex), s1 = V(t12_srv1_hex), c2 = V(t12_cli2_hex),
	           s2 = V(t12_srv2_hex), data = V(t12_cli_data_hex), cl = V(t12_cli_close_hex);
	struct rec *r = rec_new();
	static const struct { int type, dir, ct, hs, len; } want[] = {
		{ TLS_EV_CLIENT_HELLO, 0, 22, 1, 222 },
		{ TLS_EV_SERVER_HELLO, 1, 22, 2, 65 },
		{ TLS_EV_CERTIFICATE, 1, 22, 11, 544 },
		{ TLS_EV_HANDSHAKE, 1, 22, 12, 115 },
		{ TLS_EV_HANDSHAKE, 1, 22, 14, 4 },
		{ TLS_EV_HANDSHAKE, 0, 22, 16, 37 },
		{ TLS_EV_CCS, 0, 20, 0, 1 },
		{ TLS_EV_ENCRYPTED, 0, 22, 0, 40 },
		{ TLS_EV_HANDSHAKE, 1, 22, 4, 186 },
		{ TLS_EV_CCS, 1, 20, 0, 1 },
		{ TLS_EV_ENCRYPTED, 1, 22, 0, 40 },
		{ TLS_EV_ENCRYPTED, 0, 23, 0, 30 },
		{ TLS_EV_ENCRYPTED, 0, 21, 0, 26 },
	};
	size_t nw = sizeof want / sizeof want[0];
	feed(r, 0, ch, 4);
	feed(r, 1, s1, 6);
	feed(r, 0, c2, 8);
	feed(r, 1, s2, 9);
	feed(r, 0, data, 10);
	feed(r, 0, cl, 12);
	CHECK_EQ_INT(r->n, (int)nw);
	for (size_t i = 0; i < nw && (int)i < r->n; i++) {
		CHECK_EQ_INT(r->ev[i].type, want[i].type);
		CHECK_EQ_INT(r->ev[i].dir, want[i].dir);
		CHECK_EQ_INT(r->ev[i].content_type, want[i].ct);
		CHECK_EQ_INT(r->ev[i].hs_type, want[i].hs);
		CHECK_EQ_INT(r->ev[i].record_len, want[i].len);
	}
	CHECK_EQ_INT(r->st.sh.legacy_version, 0x0303);
	CHECK_EQ_INT(r->st.sh.version, 0x0303);
	CHECK_EQ_INT(r->st.sh.cipher, 0xc02c);
	CHECK_EQ_INT(r->st.sh.frame, 6);
	CHECK(r->st.saw_sh && !r->st.saw_hrr && !r->st.tls13);
	CHECK_EQ_INT(r->ev[2].cert_count, 1);
	CHECK_EQ_INT(r->st.certs.count, 1);
	CHECK_EQ_INT(r->st.certs.kept, 1);
	CHECK_EQ_INT(r->st.certs.len[0], 534);
	CHECK_EQ_INT(r->st.certs.frame, 6);
	if (r->st.certs.kept == 1)
		check_cert(r->st.certs.der + r->st.certs.off[0], r->st.certs.len[0]);
	CHECK(r->st.d[0].encrypted && r->st.d[1].encrypted);
	/* handshake over: no buffer left behind */
	CHECK(!r->st.d[0].body && !r->st.d[0].hs && !r->st.d[1].body && !r->st.d[1].hs);
	for (int a = 0; a < TLS_AN_COUNT; a++)
		CHECK_EQ_INT(r->st.anomalies[a], 0);
	rec_free(r);
	free(ch.p);
	free(s1.p);
	free(c2.p);
	free(s2.p);
	free(data.p);
	free(cl.p);
}

static void test_cert_parse_bad(void)
{
	struct vec s1 = V(t12_srv1_hex);
	struct rec *r = rec_new();
	struct cert_info ci;
	static const uint8_t junk[] = { 0x30, 0x82, 0x01, 0x00, 0x01, 0x02 };
	int bad = 0;
	feed(r, 1, s1, 1);
	CHECK_EQ_INT(cert_parse(junk, sizeof junk, &ci), -1);
	CHECK_EQ_INT(cert_parse(NULL, 10, &ci), -1);
	CHECK_EQ_INT(cert_parse(junk, 0, &ci), -1);
	CHECK_EQ_STR(ci.subject, "");
	if (r->st.certs.kept == 1) {
		const uint8_t *der = r->st.certs.der + r->st.certs.off[0];
		uint32_t len = r->st.certs.len[0];
		uint8_t *cp = malloc(len);
		/* every truncation is rejected */
		for (uint32_t k = 0; k < len; k++) {
			memcpy(cp, der, k);
			bad += cert_parse(cp, k, &ci) != -1;
		}
		/* byte flips: parsed or rejected, never a crash (ASan) */
		for (uint32_t k = 0; k < len; k++) {
			memcpy(cp, der, len);
			cp[k] ^= 0x41;
			(void)cert_parse(cp, len, &ci);
			CHECK(strlen(ci.subject) < sizeof ci.subject);
		}
		free(cp);
	}
	CHECK_EQ_INT(bad, 0);
	rec_free(r);
	free(s1.p);
}

static void test_alerts(void)
{
	struct vec ch = V(t12_ch_hex), s1 = V(t12_srv1_hex), al = V(t12_unknown_ca_hex);
	struct rec *r = rec_new();
	int i;
	static struct buf b;
	static const uint8_t two[] = { 1, 0, 2, 40 };
	feed(r, 0, ch, 1);
	feed(r, 1, s1, 2);
	feed(r, 0, al, 3);
	i = find(r, TLS_EV_ALERT, 0);
	CHECK(i >= 0);
	if (i >= 0) {
		CHECK_EQ_INT(r->ev[i].dir, TLS_DIR_C2S);
		CHECK_EQ_INT(r->ev[i].alert_level, 2);
		CHECK_EQ_INT(r->ev[i].alert_desc, 48);
		CHECK_EQ_STR(tls_alert_name(r->ev[i].alert_desc), "unknown_ca");
		CHECK_EQ_INT(r->ev[i].content_type, TLS_CT_ALERT);
		CHECK_EQ_INT(r->ev[i].record_len, 2);
		CHECK_EQ_INT(r->ev[i].frame, 3);
	}
	rec_free(r);

	/* two alerts in one record */
	r = rec_new();
	b.n = 0;
	put_record(&b, TLS_CT_ALERT, two, 4);
	feed(r, 1, bv(&b), 1);
	CHECK_EQ_INT(count(r, TLS_EV_ALERT), 2);
	CHECK(r->n == 2 && r->ev[0].alert_level == 1 && r->ev[0].alert_desc == 0 &&
	      r->ev[1].alert_level == 2 && r->ev[1].alert_desc == 40);
	rec_free(r);

	/* one alert split over two 1-byte records (fed 1 byte at a time) */
	r = rec_new();
	b.n = 0;
	put_record(&b, TLS_CT_ALERT, two + 2, 1);
	put_record(&b, TLS_CT_ALERT, two + 3, 1);
	feed_bytewise(r, 1, bv(&b), 1);
	CHECK_EQ_INT(r->n, 1);
	CHECK(r->n == 1 && r->ev[0].type == TLS_EV_ALERT && r->ev[0].alert_desc == 40);
	rec_free(r);

	/* a leftover byte followed by another record type: bad_alert */
	r = rec_new();
	b.n = 0;
	put_record(&b, TLS_CT_ALERT, two, 3);
	put_record(&b, TLS_CT_APPDATA, two, 4);
	feed(r, 1, bv(&b), 1);
	CHECK_EQ_INT(count(r, TLS_EV_ALERT), 1);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_ALERT), 1);
	CHECK_EQ_INT(count(r, TLS_EV_ENCRYPTED), 1);
	rec_free(r);

	/* bad level */
	r = rec_new();
	b.n = 0;
	put_record(&b, TLS_CT_ALERT, (const uint8_t *)"\x07\x28", 2);
	feed(r, 1, bv(&b), 1);
	CHECK_EQ_INT(count(r, TLS_EV_ALERT), 0);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_ALERT), 1);
	CHECK_EQ_INT(r->st.anomalies[TLS_AN_BAD_ALERT], 1);
	rec_free(r);
	free(ch.p);
	free(s1.p);
	free(al.p);
}

static void test_tls13(void)
{
	struct vec ch = V(t13_ch_hex), s1 = V(t13_srv1_hex), c2 = V(t13_cli2_hex), cl = V(t13_cli_close_hex);
	struct rec *r = rec_new();
	static const struct { int type, dir, ct, len; } want[] = {
		{ TLS_EV_CLIENT_HELLO, 0, 22, 322 },
		{ TLS_EV_SERVER_HELLO, 1, 22, 122 },
		{ TLS_EV_CCS, 1, 20, 1 },
		{ TLS_EV_ENCRYPTED, 1, 23, 23 },
		{ TLS_EV_ENCRYPTED, 1, 23, 564 },
		{ TLS_EV_ENCRYPTED, 1, 23, 97 },
		{ TLS_EV_ENCRYPTED, 1, 23, 69 },
		{ TLS_EV_CCS, 0, 20, 1 },
		{ TLS_EV_ENCRYPTED, 0, 23, 69 },
		{ TLS_EV_ENCRYPTED, 0, 23, 19 },
	};
	size_t nw = sizeof want / sizeof want[0];
	CHECK_EQ_INT(cl.n, 24);
	feed(r, 0, ch, 1);
	feed(r, 1, s1, 2);
	feed_bytewise(r, 0, c2, 3);
	feed(r, 0, cl, 4);
	CHECK_EQ_INT(r->n, (int)nw);
	for (size_t i = 0; i < nw && (int)i < r->n; i++) {
		CHECK_EQ_INT(r->ev[i].type, want[i].type);
		CHECK_EQ_INT(r->ev[i].dir, want[i].dir);
		CHECK_EQ_INT(r->ev[i].content_type, want[i].ct);
		CHECK_EQ_INT(r->ev[i].record_len, want[i].len);
	}
	CHECK_EQ_STR(r->st.ch.sni, "test.example");
	CHECK_EQ_STR(r->st.ch.alpn, "h2");
	CHECK_EQ_INT(r->st.ch.max_version, 0x0304);
	CHECK_EQ_STR(r->st.ch.ja3, "5a1edc7f170af1014fc65c994878e63c");
	CHECK_EQ_INT(r->st.sh.legacy_version, 0x0303);
	CHECK_EQ_INT(r->st.sh.version, 0x0304);
	CHECK_EQ_INT(r->st.sh.cipher, 0x1302);
	CHECK(r->st.tls13 && r->st.saw_sh && !r->st.saw_hrr);
	CHECK(r->n > 1 && r->ev[1].is_hrr == 0);
	CHECK(!r->st.d[0].body && !r->st.d[0].hs && !r->st.d[1].body && !r->st.d[1].hs);
	CHECK_EQ_INT(r->st.saw_cert, 0);

	/* OpenSSL 3 sends this plaintext alert when it rejects the
	 * certificate in TLS 1.3 (no handshake write keys yet) */
	{
		static const uint8_t a[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x30 };
		int n0 = r->n;
		tls_feed(&r->st, 0, a, sizeof a, 5, 0);
		CHECK_EQ_INT(r->n, n0 + 1);
		CHECK(r->n == n0 + 1 && r->ev[n0].type == TLS_EV_ALERT && r->ev[n0].alert_desc == 48);
	}
	rec_free(r);

	/* the client's next record header already half there when the
	 * ServerHello arrives: that record is still treated as encrypted */
	r = rec_new();
	{
		static struct buf b;
		b.n = 0;
		putn(&b, ch.p, ch.n);
		putn(&b, c2.p, 8);  /* CCS record, then 2 bytes of the next header */
		feed(r, 0, bv(&b), 1);
		feed(r, 1, s1, 2);
		tls_feed(&r->st, 0, c2.p + 8, c2.n - 8, 3, 0);
		CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 1);
		CHECK_EQ_INT(count(r, TLS_EV_CCS), 2);
		CHECK_EQ_INT(count(r, TLS_EV_ENCRYPTED), 5);
		CHECK(r->n > 0 && r->ev[r->n - 1].dir == 0 && r->ev[r->n - 1].type == TLS_EV_ENCRYPTED &&
		      r->ev[r->n - 1].record_len == 69);
		for (int a = 0; a < TLS_AN_COUNT; a++)
			CHECK_EQ_INT(r->st.anomalies[a], 0);
	}
	rec_free(r);
	free(ch.p);
	free(s1.p);
	free(c2.p);
	free(cl.p);
}

static void test_hrr(void)
{
	struct vec c1 = V(hrr_ch1_hex), s1 = V(hrr_srv1_hex), c2 = V(hrr_cli2_hex), s2 = V(hrr_srv2_hex);
	struct rec *r = rec_new();
	int i;
	feed(r, 0, c1, 1);
	feed(r, 1, s1, 2);
	i = find(r, TLS_EV_SERVER_HELLO, 0);
	CHECK(i >= 0 && r->ev[i].is_hrr == 1);
	CHECK(r->st.saw_hrr && !r->st.saw_sh);
	CHECK_EQ_INT(count(r, TLS_EV_CCS), 1);
	CHECK_EQ_INT(count(r, TLS_EV_ENCRYPTED), 0);
	CHECK(!r->st.d[0].encrypted && !r->st.d[1].encrypted);
	feed(r, 0, c2, 3);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 2);
	CHECK_EQ_INT(count(r, TLS_EV_CCS), 2);
	i = find(r, TLS_EV_CLIENT_HELLO, 1);
	CHECK(i >= 0 && r->ev[i].frame == 3);
	CHECK_EQ_STR(r->st.ch.sni, "test.example");
	CHECK_EQ_STR(r->st.ch.ja3, "a766c0cb08b7143fcaf7ee210298ded8");
	feed(r, 1, s2, 4);
	i = find(r, TLS_EV_SERVER_HELLO, 1);
	CHECK(i >= 0 && r->ev[i].is_hrr == 0);
	CHECK_EQ_INT(count(r, TLS_EV_ENCRYPTED), 4);
	CHECK(r->st.tls13 && r->st.saw_sh && r->st.saw_hrr);
	CHECK_EQ_INT(r->st.sh.version, 0x0304);
	for (int a = 0; a < TLS_AN_COUNT; a++)
		CHECK_EQ_INT(r->st.anomalies[a], 0);
	rec_free(r);
	free(c1.p);
	free(s1.p);
	free(c2.p);
	free(s2.p);
}

/* A minimal ClientHello: legacy 0x0303, optional SNI. */
static void build_ch(struct buf *b, const char *sni)
{
	static struct buf m;
	size_t ext_at;
	m.n = 0;
	put8(&m, 1);
	put24(&m, 0);
	put16(&m, 0x0303);
	putfill(&m, 0x11, 32);
	put8(&m, 0);
	put16(&m, 2);
	put16(&m, 0x1301);
	put8(&m, 1);
	put8(&m, 0);
	ext_at = m.n;
	put16(&m, 0);
	if (sni) {
		size_t l = strlen(sni);
		put16(&m, 0);
		put16(&m, (unsigned)l + 5);
		put16(&m, (unsigned)l + 3);
		put8(&m, 0);
		put16(&m, (unsigned)l);
		putn(&m, sni, l);
	}
	m.b[ext_at] = (uint8_t)((m.n - ext_at - 2) >> 8);
	m.b[ext_at + 1] = (uint8_t)(m.n - ext_at - 2);
	m.b[1] = 0;
	m.b[2] = (uint8_t)((m.n - 4) >> 8);
	m.b[3] = (uint8_t)(m.n - 4);
	b->n = 0;
	put_record(b, TLS_CT_HANDSHAKE, m.b, m.n);
}

/* The second ClientHello keeps the first one's SNI unless it was empty. */
static void test_hrr_sni(void)
{
	struct vec s1 = V(hrr_srv1_hex);
	static struct buf b;
	struct rec *r = rec_new();
	build_ch(&b, "First.Example");
	feed(r, 0, bv(&b), 1);
	CHECK_EQ_STR(r->st.ch.sni, "first.example");
	CHECK_EQ_STR(r->st.ch.ja3_str, "771,4865,0,,");
	feed(r, 1, s1, 2);
	build_ch(&b, NULL);
	feed(r, 0, bv(&b), 3);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 2);
	CHECK_EQ_STR(r->st.ch.sni, "first.example");
	CHECK_EQ_STR(r->st.ch.ja3_str, "771,4865,,,");
	rec_free(r);

	r = rec_new();
	build_ch(&b, NULL);
	feed(r, 0, bv(&b), 1);
	feed(r, 1, s1, 2);
	build_ch(&b, "second.example");
	feed(r, 0, bv(&b), 3);
	CHECK_EQ_STR(r->st.ch.sni, "second.example");
	rec_free(r);

	/* control bytes in SNI are escaped */
	r = rec_new();
	build_ch(&b, "a\nb\\c");
	feed(r, 0, bv(&b), 1);
	CHECK_EQ_STR(r->st.ch.sni, "a\\x0ab\\x5cc");
	rec_free(r);
	free(s1.p);
}

static void test_sslv2(void)
{
	struct vec v2 = V(v2_ch_hex);
	struct rec *r = rec_new();
	static const uint8_t v2tls[] = {
		0x80, 0x1c, 0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x2f,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	feed_bytewise(r, 0, v2, 4);
	CHECK_EQ_INT(r->n, 1);
	CHECK(r->n == 1 && r->ev[0].type == TLS_EV_CLIENT_HELLO && r->ev[0].content_type == TLS_CT_SSLV2);
	CHECK_EQ_INT(r->st.ch.sslv2, 1);
	CHECK_EQ_INT(r->st.ch.legacy_version, 0x0002);
	CHECK_EQ_INT(r->st.ch.max_version, 0x0002);
	CHECK_EQ_STR(r->st.ch.sni, "");
	CHECK_EQ_STR(r->st.ch.ja3, "");
	rec_free(r);

	/* SSLv2-compatible hello offering TLS 1.0, then a TLS ServerHello */
	CHECK_EQ_INT(tls_probe(v2tls, sizeof v2tls), PI_OK);
	r = rec_new();
	tls_feed(&r->st, 0, v2tls, sizeof v2tls, 1, 0);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 1);
	CHECK_EQ_INT(r->st.ch.sslv2, 1);
	CHECK_EQ_INT(r->st.ch.legacy_version, 0x0301);
	CHECK_EQ_INT(r->st.ch.max_version, 0x0301);
	rec_free(r);

	/* an SSLv2 header in the server direction is not a ClientHello */
	r = rec_new();
	tls_feed(&r->st, 1, v2tls, sizeof v2tls, 1, 0);
	CHECK_EQ_INT(count(r, TLS_EV_NOT_TLS), 1);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 0);
	rec_free(r);
	free(v2.p);
}

/* Pure SSLv2: the server answers in SSLv2 (version 0x0002, RSA
 * certificate without extensions); nothing after that is parsed. */
static void test_sslv2_server(void)
{
	struct vec ch = V(v2_ch_hex), sh = V(v2_sh_hex);
	struct rec *r = rec_new();
	struct cert_info ci;
	int i;
	feed(r, 0, ch, 4);
	feed_bytewise(r, 1, sh, 6);
	CHECK_EQ_INT(r->n, 3);
	i = find(r, TLS_EV_SERVER_HELLO, 0);
	CHECK(i == 1 && r->ev[i].content_type == TLS_CT_SSLV2 && r->ev[i].frame == 6);
	CHECK_EQ_INT(r->st.sh.version, 0x0002);
	CHECK_EQ_STR(tls_version_name(r->st.sh.version), "SSL 2.0");
	i = find(r, TLS_EV_CERTIFICATE, 0);
	CHECK(i == 2 && r->ev[i].cert_count == 1);
	CHECK_EQ_INT(r->st.certs.kept, 1);
	CHECK_EQ_INT(r->st.certs.len[0], 903);
	if (r->st.certs.kept == 1) {
		/* `openssl x509 -inform DER -text -nameopt RFC2253` */
		CHECK_EQ_INT(cert_parse(r->st.certs.der + r->st.certs.off[0], r->st.certs.len[0], &ci), 0);
		CHECK_EQ_STR(ci.subject, "emailAddress=info@plesk.com,CN=plesk,OU=Plesk,O=Parallels,"
		                         "L=Herndon,ST=Virginia,C=US");
		CHECK_EQ_STR(ci.issuer, ci.subject);
		CHECK_EQ_STR(ci.cn, "plesk");
		CHECK_EQ_STR(ci.key_type, "RSA");
		CHECK_EQ_INT(ci.key_bits, 2048);
		CHECK_EQ_STR(ci.sig_alg, "sha1WithRSAEncryption");
		CHECK_EQ_INT(ci.not_before, 1320612457);  /* Nov  6 20:47:37 2011 GMT */
		CHECK_EQ_INT(ci.not_after, 1352148457);   /* Nov  5 20:47:37 2012 GMT */
		CHECK_EQ_STR(ci.san, "");
		CHECK_EQ_INT(ci.san_count, 0);
		CHECK(!ci.has_eku && !ci.has_aki && !ci.has_ski && !ci.is_ca && !ci.bc_critical);
		CHECK_EQ_INT(ci.self_issued, 1);
		CHECK_EQ_STR(ci.aki_hex, "");
		CHECK_EQ_STR(ci.sha256, "8ce7a4de80166f6198ad559e2aaaa0d858ad2fb173557a9b159cfcaf4760beef");
		CHECK_EQ_STR(ci.spki_sha256, "9OISb1LakBIlYrN+MmNDyuwH3GjgbYAMt/MDxE5hea4=");
	}
	CHECK(r->st.d[0].not_tls && r->st.d[1].not_tls);
	CHECK_EQ_INT(count(r, TLS_EV_NOT_TLS), 0);
	feed(r, 0, ch, 8);
	CHECK_EQ_INT(r->n, 3);
	rec_free(r);
	free(ch.p);
	free(sh.p);
}

static void test_not_tls(void)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\n";
	static const uint8_t longrec[] = { 0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00 };
	struct rec *r = rec_new();
	tls_feed(&r->st, 0, (const uint8_t *)get, sizeof get - 1, 1, 0);
	tls_feed(&r->st, 0, (const uint8_t *)get, sizeof get - 1, 2, 0);
	tls_feed(&r->st, 1, (const uint8_t *)resp, sizeof resp - 1, 3, 0);
	CHECK_EQ_INT(r->n, 2);
	CHECK(r->n == 2 && r->ev[0].type == TLS_EV_NOT_TLS && r->ev[0].dir == 0 && r->ev[0].frame == 1);
	CHECK(r->n == 2 && r->ev[1].type == TLS_EV_NOT_TLS && r->ev[1].dir == 1);
	CHECK(r->st.d[0].not_tls && r->st.d[1].not_tls);
	rec_free(r);

	/* byte by byte: decided on the first byte */
	r = rec_new();
	for (size_t i = 0; i < sizeof get - 1; i++)
		tls_feed(&r->st, 0, (const uint8_t *)get + i, 1, 10 + i, 0);
	CHECK_EQ_INT(r->n, 1);
	CHECK(r->n == 1 && r->ev[0].frame == 10);
	rec_free(r);

	/* a first record of 0xffff bytes is not TLS */
	r = rec_new();
	tls_feed(&r->st, 0, longrec, sizeof longrec, 1, 0);
	CHECK_EQ_INT(count(r, TLS_EV_NOT_TLS), 1);
	rec_free(r);

	/* after a gap the stream start is unknown: no NOT_TLS, resync */
	r = rec_new();
	tls_gap(&r->st, 0, 100);
	tls_feed(&r->st, 0, (const uint8_t *)get, sizeof get - 1, 1, 0);
	CHECK_EQ_INT(count(r, TLS_EV_NOT_TLS), 0);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_GAP), 1);
	rec_free(r);
}

static void test_malformed_records(void)
{
	struct vec ch = V(t12_ch_hex);
	static struct buf b;
	static const uint8_t app[] = { 1, 2, 3, 4, 5 };
	struct rec *r = rec_new();
	int i;

	/* record length 0xffff after a good record: anomaly, then resync */
	b.n = 0;
	putn(&b, ch.p, ch.n);
	putn(&b, "\x16\x03\x03\xff\xff", 5);
	putfill(&b, 0xee, 300);
	put_record(&b, TLS_CT_APPDATA, app, sizeof app);
	feed_bytewise(r, 0, bv(&b), 1);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 1);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_RECORD_TOO_LONG), 1);
	CHECK_EQ_INT(r->st.anomalies[TLS_AN_RECORD_TOO_LONG], 1);
	i = find(r, TLS_EV_ENCRYPTED, 0);
	CHECK(i >= 0 && r->ev[i].record_len == 5);
	CHECK_EQ_INT(r->st.d[0].desync, 0);
	rec_free(r);

	/* bad type, then bad version, after a good record: one anomaly each
	 * (the bytes scanned while resynchronising raise nothing more) */
	for (int k = 0; k < 2; k++) {
		r = rec_new();
		b.n = 0;
		putn(&b, ch.p, ch.n);
		putn(&b, k ? "\x17\x05\x03\x00\x01\x00" : "\x63\x03\x03\x00\x01\x00", 6);
		putn(&b, "\x17\x05\x03\x00\x01\x00", 6);
		put_record(&b, TLS_CT_APPDATA, app, sizeof app);
		feed(r, 0, bv(&b), 1);
		CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_RECORD_TYPE), k ? 0 : 1);
		CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_RECORD_VERSION), k ? 1 : 0);
		CHECK_EQ_INT(count(r, TLS_EV_ENCRYPTED), 1);
		CHECK_EQ_INT(r->n, 3);
		rec_free(r);
	}

	/* heartbeat */
	r = rec_new();
	b.n = 0;
	put_record(&b, TLS_CT_HEARTBEAT, (const uint8_t *)"\x01\x40\x00", 3);
	feed(r, 0, bv(&b), 1);
	CHECK(r->n == 1 && r->ev[0].type == TLS_EV_HEARTBEAT && r->ev[0].record_len == 3);
	rec_free(r);
	free(ch.p);
}

/* Patch a copy of the TLS 1.2 ClientHello and return its events. */
static struct rec *mutated_ch(size_t off, uint8_t val)
{
	struct vec ch = V(t12_ch_hex);
	struct rec *r = rec_new();
	if (off < ch.n)
		ch.p[off] = val;
	feed(r, 0, ch, 1);
	free(ch.p);
	return r;
}

static size_t find_bytes(struct vec v, const void *pat, size_t n)
{
	for (size_t i = 0; i + n <= v.n; i++)
		if (memcmp(v.p + i, pat, n) == 0)
			return i;
	return (size_t)-1;
}

static void test_malformed_hello(void)
{
	struct vec ch = V(t12_ch_hex);
	/* server_name extension: type 0, len 17, list 15, host_name 12 */
	size_t sni = find_bytes(ch, "\x00\x00\x00\x11\x00\x0f\x00\x00\x0c", 9);
	struct rec *r;
	static struct buf b;
	CHECK(sni != (size_t)-1);

	/* SNI name length past the end of the extension */
	r = mutated_ch(sni + 8, 0x40);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_HANDSHAKE), 1);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 1);
	CHECK_EQ_STR(r->st.ch.sni, "");
	CHECK_EQ_STR(r->st.ch.ja3, T12_JA3);  /* the extension list is intact */
	CHECK_EQ_STR(r->st.ch.alpn, "h2,http/1.1");
	rec_free(r);

	/* extensions length past the end (it precedes the first extension) */
	r = mutated_ch(sni - 2, 0x01);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_HANDSHAKE), 1);
	CHECK_EQ_INT(count(r, TLS_EV_CLIENT_HELLO), 1);
	CHECK_EQ_STR(r->st.ch.ja3, "");
	CHECK_EQ_STR(r->st.ch.ja3_str, "");
	CHECK_EQ_STR(r->st.ch.sni, "");
	CHECK_EQ_INT(r->st.ch.legacy_version, 0x0303);
	rec_free(r);

	/* handshake length bigger than the record: waits for more, no event */
	r = mutated_ch(6, 0x01);
	CHECK_EQ_INT(r->n, 0);
	CHECK(r->st.d[0].hs != NULL && r->st.d[0].hs_have == 222);
	rec_free(r);

	/* handshake message shorter than its content: cipher list cut */
	r = mutated_ch(8, 0x20);
	CHECK_EQ_INT(r->n, 2);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_HANDSHAKE), 1);
	rec_free(r);

	/* truncated at every byte offset: no crash, no event */
	{
		int bad = 0;
		for (size_t k = 0; k < ch.n; k++) {
			r = rec_new();
			tls_feed(&r->st, 0, ch.p, k, 1, 0);
			bad += r->n != 0;
			rec_free(r);
		}
		CHECK_EQ_INT(bad, 0);
	}
	/* cut at every offset with consistent record and handshake lengths:
	 * parsed or flagged, never read past the end (ASan) */
	{
		int bad = 0;
		for (size_t k = 4; k <= 222; k++) {
			b.n = 0;
			put8(&b, 0x16);
			put16(&b, 0x0301);
			put16(&b, (unsigned)k);
			put8(&b, 1);
			put24(&b, (unsigned)k - 4);
			putn(&b, ch.p + 9, k - 4);
			r = rec_new();
			feed(r, 0, bv(&b), 1);
			/* a hello either parses or is flagged */
			bad += count(r, TLS_EV_CLIENT_HELLO) + count_anomaly(r, TLS_AN_BAD_HANDSHAKE) == 0;
			rec_free(r);
		}
		CHECK_EQ_INT(bad, 0);
	}

	/* zero-length everything */
	r = rec_new();
	b.n = 0;
	put_record(&b, TLS_CT_HANDSHAKE, NULL, 0);
	put_record(&b, TLS_CT_ALERT, NULL, 0);
	put_record(&b, TLS_CT_APPDATA, NULL, 0);
	put_record(&b, TLS_CT_HANDSHAKE, (const uint8_t *)"\x0e\x00\x00\x00", 4);
	put_record(&b, TLS_CT_HANDSHAKE,
	           (const uint8_t *)"\x01\x00\x00\x26\x03\x03"
	           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	           "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	           "\x00\x00\x00\x00", 42);
	put_record(&b, TLS_CT_CCS, NULL, 0);
	feed_bytewise(r, 0, bv(&b), 1);
	CHECK_EQ_INT(r->n, 6);
	CHECK(r->n == 6 && r->ev[0].type == TLS_EV_ANOMALY && r->ev[0].anomaly == TLS_AN_BAD_HANDSHAKE);
	CHECK(r->n == 6 && r->ev[1].type == TLS_EV_ANOMALY && r->ev[1].anomaly == TLS_AN_BAD_ALERT);
	CHECK(r->n == 6 && r->ev[2].type == TLS_EV_ENCRYPTED && r->ev[2].record_len == 0);
	CHECK(r->n == 6 && r->ev[3].type == TLS_EV_HANDSHAKE && r->ev[3].hs_type == 14);
	CHECK(r->n == 6 && r->ev[4].type == TLS_EV_CLIENT_HELLO);
	CHECK(r->n == 6 && r->ev[5].type == TLS_EV_CCS);
	CHECK_EQ_STR(r->st.ch.ja3_str, "771,,,,");
	CHECK_EQ_STR(r->st.ch.sni, "");
	rec_free(r);
	free(ch.p);
}

/* Big and oversized handshake messages, many certificates. */
static void test_big_messages(void)
{
	static struct buf m, b;
	static uint8_t hs[70000];
	struct rec *r;
	size_t n;

	/* 12 certificates of 5000 bytes: 60 KB message over 4 records */
	m.n = 0;
	put8(&m, TLS_HS_CERTIFICATE);
	put24(&m, 3 + 12 * (3 + 5000));
	put24(&m, 12 * (3 + 5000));
	for (int i = 0; i < 12; i++) {
		put24(&m, 5000);
		putfill(&m, (unsigned)i, 5000);
	}
	memcpy(hs, m.b, m.n);
	repack(&b, hs, m.n, 16384);
	r = rec_new();
	feed_random_chunks(r, 1, bv(&b), 1);
	CHECK_EQ_INT(r->n, 1);
	CHECK(r->n == 1 && r->ev[0].type == TLS_EV_CERTIFICATE && r->ev[0].cert_count == 12);
	CHECK_EQ_INT(r->st.certs.count, 12);
	CHECK_EQ_INT(r->st.certs.kept, PI_TLS_MAX_CERTS);
	CHECK(r->st.certs.kept == PI_TLS_MAX_CERTS && r->st.certs.len[9] == 5000 &&
	      r->st.certs.der[r->st.certs.off[9]] == 9 && r->st.certs.der[r->st.certs.off[9] + 4999] == 9 &&
	      r->st.certs.off[9] + 5000 <= r->st.certs.der_size);
	/* a second Certificate message does not replace the first */
	feed(r, 1, bv(&b), 2);
	CHECK_EQ_INT(r->st.certs.frame, 1);
	rec_free(r);

	/* over PI_TLS_MAX_HS_MSG: skipped, counted, then back in step */
	m.n = 0;
	n = PI_TLS_MAX_HS_MSG + 100;
	put8(&m, TLS_HS_CERTIFICATE);
	put24(&m, (unsigned)n - 4);
	r = rec_new();
	b.n = 0;
	/* header + first bytes in one record, then 8 more records of filler */
	{
		size_t left = n - 4, first = 1000;
		uint8_t body[16384];
		memset(body, 0x42, sizeof body);
		memcpy(body, m.b, 4);
		put_record(&b, TLS_CT_HANDSHAKE, body, 4 + first);
		tls_feed(&r->st, 1, b.b, b.n, 1, 0);
		left -= first;
		while (left) {
			size_t k = left < sizeof body ? left : sizeof body;
			b.n = 0;
			memset(body, 0x42, sizeof body);
			put_record(&b, TLS_CT_HANDSHAKE, body, k);
			tls_feed(&r->st, 1, b.b, b.n, 2, 0);
			left -= k;
		}
	}
	b.n = 0;
	put_record(&b, TLS_CT_HANDSHAKE, (const uint8_t *)"\x0e\x00\x00\x00", 4);
	tls_feed(&r->st, 1, b.b, b.n, 3, 0);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_HS_MSG_TOO_BIG), 1);
	CHECK_EQ_INT(r->caps.tls_msg_too_big, 1);
	CHECK_EQ_INT(count(r, TLS_EV_CERTIFICATE), 0);
	CHECK(r->n >= 1 && r->ev[r->n - 1].type == TLS_EV_HANDSHAKE && r->ev[r->n - 1].hs_type == 14);
	CHECK(r->st.d[1].hs == NULL || r->st.d[1].hs_cap <= PI_TLS_MAX_HS_MSG);
	rec_free(r);
}

static void test_gaps(void)
{
	struct vec ch = V(t12_ch_hex), s1 = V(t12_srv1_hex), c2 = V(t12_cli2_hex), s2 = V(t12_srv2_hex);
	static struct buf b;
	static uint8_t body[200];
	struct rec *r = rec_new();
	int i;

	feed(r, 0, ch, 1);
	feed(r, 1, s1, 2);
	feed(r, 0, c2, 3);
	feed(r, 1, s2, 4);
	r->n = 0;

	/* a gap inside an encrypted body: the record just gets shorter */
	b.n = 0;
	put_record(&b, TLS_CT_APPDATA, body, 100);
	put_record(&b, TLS_CT_APPDATA, body, 7);
	tls_feed(&r->st, 1, b.b, 35, 5, 0);
	tls_gap(&r->st, 1, 40);
	tls_feed(&r->st, 1, b.b + 75, b.n - 75, 6, 0);
	CHECK_EQ_INT(r->n, 2);
	CHECK(r->n == 2 && r->ev[0].type == TLS_EV_ENCRYPTED && r->ev[0].record_len == 100 &&
	      r->ev[0].frame == 6);
	CHECK(r->n == 2 && r->ev[1].type == TLS_EV_ENCRYPTED && r->ev[1].record_len == 7);
	CHECK_EQ_INT(r->st.anomalies[TLS_AN_GAP], 0);

	/* a gap that ends a record exactly: the event comes at once */
	r->n = 0;
	tls_feed(&r->st, 1, b.b, 50, 7, 0);
	tls_gap(&r->st, 1, 55);
	CHECK(r->n == 1 && r->ev[0].type == TLS_EV_ENCRYPTED && r->ev[0].frame == 7);

	/* a gap across a record boundary: resync on the next plausible header */
	r->n = 0;
	tls_feed(&r->st, 1, b.b, 50, 8, 0);
	tls_gap(&r->st, 1, 80);  /* 25 bytes of this record's body (rec_left 55) */
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_GAP), 1);
	CHECK_EQ_INT(r->st.d[1].desync, 1);
	b.n = 0;
	putfill(&b, 0xee, 33);  /* the tail of some record */
	put_record(&b, TLS_CT_APPDATA, body, 9);
	put_record(&b, TLS_CT_ALERT, body, 26);
	feed_bytewise(r, 1, bv(&b), 9);
	CHECK_EQ_INT(r->st.d[1].desync, 0);
	CHECK_EQ_INT(count(r, TLS_EV_ENCRYPTED), 2);
	i = find(r, TLS_EV_ENCRYPTED, 1);
	CHECK(i >= 0 && r->ev[i].content_type == TLS_CT_ALERT && r->ev[i].record_len == 26);
	rec_free(r);

	/* a gap inside a plaintext handshake record: the Certificate is lost,
	 * the messages before and after it are not */
	r = rec_new();
	feed(r, 0, ch, 1);
	tls_feed(&r->st, 1, s1.p, 150, 2, 0);
	tls_gap(&r->st, 1, 200);
	tls_feed(&r->st, 1, s1.p + 350, s1.n - 350, 3, 0);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_GAP), 1);
	CHECK_EQ_INT(count(r, TLS_EV_SERVER_HELLO), 1);
	CHECK_EQ_INT(count(r, TLS_EV_CERTIFICATE), 0);
	CHECK_EQ_INT(count(r, TLS_EV_HANDSHAKE), 2);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_HANDSHAKE), 0);
	i = find(r, TLS_EV_SERVER_HELLO, 0);
	CHECK(i >= 0 && r->ev[i].frame == 2);  /* parsed when the gap was seen */
	CHECK_EQ_INT(r->st.saw_cert, 0);
	rec_free(r);

	/* a gap covering the start of a handshake message: skip up to the
	 * next record that starts with a plausible message */
	r = rec_new();
	{
		static uint8_t hsb[4096];
		size_t n = hs_payload(s1, hsb);
		/* SH | Cert | SKE | SHD in records cut at message boundaries */
		size_t sh_len = 4 + (((size_t)hsb[1] << 16) | ((size_t)hsb[2] << 8) | hsb[3]);
		b.n = 0;
		put_record(&b, TLS_CT_HANDSHAKE, hsb, sh_len);
		put_record(&b, TLS_CT_HANDSHAKE, hsb + sh_len, n - sh_len - 4);
		put_record(&b, TLS_CT_HANDSHAKE, hsb + n - 4, 4);
		tls_feed(&r->st, 1, b.b, 5 + sh_len + 5 + 10, 1, 0);
		tls_gap(&r->st, 1, 200);
		tls_feed(&r->st, 1, b.b + 5 + sh_len + 5 + 210, b.n - (5 + sh_len + 5 + 210), 2, 0);
		CHECK_EQ_INT(count(r, TLS_EV_SERVER_HELLO), 1);
		CHECK_EQ_INT(count(r, TLS_EV_CERTIFICATE), 0);
		i = find(r, TLS_EV_HANDSHAKE, 0);
		CHECK(i >= 0 && r->ev[i].hs_type == 12);
		i = find(r, TLS_EV_HANDSHAKE, 1);
		CHECK(i >= 0 && r->ev[i].hs_type == 14);
		CHECK_EQ_INT(count_anomaly(r, TLS_AN_BAD_HANDSHAKE), 0);
	}
	rec_free(r);

	/* gap inside a header (the ClientKeyExchange record, 42 bytes), then
	 * resync on the CCS record that follows it */
	r = rec_new();
	feed(r, 0, ch, 1);
	tls_feed(&r->st, 0, c2.p, 3, 2, 0);
	tls_gap(&r->st, 0, 39);
	tls_feed(&r->st, 0, c2.p + 42, c2.n - 42, 3, 0);
	CHECK_EQ_INT(count_anomaly(r, TLS_AN_GAP), 1);
	CHECK_EQ_INT(count(r, TLS_EV_HANDSHAKE), 0);
	CHECK_EQ_INT(count(r, TLS_EV_CCS), 1);
	CHECK_EQ_INT(count(r, TLS_EV_ENCRYPTED), 1);  /* the Finished */
	CHECK_EQ_INT(r->st.d[0].desync, 0);
	rec_free(r);
	free(ch.p);
	free(s1.p);
	free(c2.p);
	free(s2.p);
}

/* Random byte flips over a whole session, random chunks, random gaps:
 * only memory safety and bounds are checked (run under ASan/UBSan). */
static void test_fuzz(void)
{
	struct vec parts[6] = { V(t12_ch_hex), V(t12_srv1_hex), V(t12_cli2_hex), V(t12_srv2_hex),
	                        V(t13_ch_hex), V(t13_srv1_hex) };
	int dirs[6] = { 0, 1, 0, 1, 0, 1 };
	int bad = 0;
	for (int iter = 0; iter < 3000; iter++) {
		struct rec *r = rec_new();
		int base = (iter & 1) ? 4 : 0, np = (iter & 1) ? 2 : 4;
		for (int p = 0; p < np; p++) {
			struct vec v = parts[base + p];
			uint8_t *cp = malloc(v.n);
			struct vec m;
			int flips = (int)(lcg() % 6);
			memcpy(cp, v.p, v.n);
			for (int f = 0; f < flips; f++)
				cp[lcg() % v.n] = (uint8_t)lcg();
			m.p = cp;
			m.n = v.n;
			if (lcg() % 8 == 0) {
				size_t cut = lcg() % v.n;
				tls_feed(&r->st, dirs[base + p], cp, cut, 1, 0);
				tls_gap(&r->st, dirs[base + p], 1 + lcg() % 300);
			} else {
				feed_random_chunks(r, dirs[base + p], m, 1);
			}
			free(cp);
		}
		for (int d = 0; d < 2; d++) {
			bad += r->st.d[d].hdr_have > 5;
			bad += r->st.d[d].rec_left > TLS_MAX_RECORD;
			bad += r->st.d[d].hs_cap > PI_TLS_MAX_HS_MSG;
			bad += r->st.d[d].body_cap > TLS_MAX_RECORD;
		}
		bad += strlen(r->st.ch.sni) >= sizeof r->st.ch.sni;
		bad += r->st.certs.kept > PI_TLS_MAX_CERTS;
		for (uint32_t k = 0; k < r->st.certs.kept; k++) {
			struct cert_info ci;
			(void)cert_parse(r->st.certs.der + r->st.certs.off[k], r->st.certs.len[k], &ci);
		}
		rec_free(r);
	}
	CHECK_EQ_INT(bad, 0);
	for (int p = 0; p < 6; p++)
		free(parts[p].p);
}

/* ---- JA3 memo, GREASE, SNI: checked against a reference ---- */

/* A ClientHello to build. Extension types 0 (SNI), 10 (groups), 11 (point
 * formats), 16 (ALPN) and 43 (supported_versions) get their bodies from
 * the fields below; any other type gets ext_body (or an empty body). */
struct hspec {
	uint16_t version;
	uint16_t ciphers[400];
	size_t nc;
	uint16_t exts[40];
	size_t ne;
	uint16_t groups[40];
	size_t ng;
	uint8_t formats[8];
	size_t nf;
	uint16_t versions[8];
	size_t nv;
	uint8_t sni[320];
	size_t sni_n;
	const char *alpn[4];
	size_t nalpn;
	uint8_t ext_body[6];
	size_t ext_body_n;
};

static int grease16(unsigned v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static unsigned grease_draw(void)
{
	unsigned g = lcg() % 16;
	return (g << 12) | 0x0a00 | (g << 4) | 0x0a;
}

/* The hello as one handshake record (or several when long). */
static void build_hello(struct buf *out, const struct hspec *h)
{
	static struct buf m, x;
	m.n = 0;
	x.n = 0;
	put8(&m, TLS_HS_CLIENT_HELLO);
	put24(&m, 0); /* set below */
	put16(&m, h->version);
	putfill(&m, 0x5a, 32);
	put8(&m, 0);
	put16(&m, (unsigned)(2 * h->nc));
	for (size_t i = 0; i < h->nc; i++)
		put16(&m, h->ciphers[i]);
	put8(&m, 1);
	put8(&m, 0);
	for (size_t e = 0; e < h->ne; e++) {
		size_t at;
		put16(&x, h->exts[e]);
		at = x.n;
		put16(&x, 0);
		switch (h->exts[e]) {
		case 0:
			put16(&x, (unsigned)(3 + h->sni_n));
			put8(&x, 0);
			put16(&x, (unsigned)h->sni_n);
			putn(&x, h->sni, h->sni_n);
			break;
		case 10:
			put16(&x, (unsigned)(2 * h->ng));
			for (size_t i = 0; i < h->ng; i++)
				put16(&x, h->groups[i]);
			break;
		case 11:
			put8(&x, (unsigned)h->nf);
			putn(&x, h->formats, h->nf);
			break;
		case 16: {
			size_t l = 0;
			for (size_t i = 0; i < h->nalpn; i++)
				l += 1 + strlen(h->alpn[i]);
			put16(&x, (unsigned)l);
			for (size_t i = 0; i < h->nalpn; i++) {
				put8(&x, (unsigned)strlen(h->alpn[i]));
				putn(&x, h->alpn[i], strlen(h->alpn[i]));
			}
			break;
		}
		case 43:
			put8(&x, (unsigned)(2 * h->nv));
			for (size_t i = 0; i < h->nv; i++)
				put16(&x, h->versions[i]);
			break;
		default:
			putn(&x, h->ext_body, h->ext_body_n);
			break;
		}
		x.b[at] = (uint8_t)((x.n - at - 2) >> 8);
		x.b[at + 1] = (uint8_t)(x.n - at - 2);
	}
	put16(&m, (unsigned)x.n);
	putn(&m, x.b, x.n);
	m.b[1] = (uint8_t)((m.n - 4) >> 16);
	m.b[2] = (uint8_t)((m.n - 4) >> 8);
	m.b[3] = (uint8_t)(m.n - 4);
	repack(out, m.b, m.n, 16384);
}

/* What the hello must give, computed here from the spec: the JA3 string
 * (salesforce/ja3), its MD5 (OpenSSL), ref_printable + pi_lower for the SNI,
 * the ALPN names joined as tls.h says. */
struct hexpect {
	char ja3_full[8192];
	char ja3_str[512];
	char ja3[33];
	char sni[256];
	char alpn[64];
	uint16_t max_version;
};

/* The escaping rule, byte by byte (pi_printable's definition; the library's
 * own is eight bytes at a time): 0x21..0x7e but '\\' kept, others \xHH,
 * stopping at the first that does not fit. */
static void ref_printable(char *dst, size_t dstlen, const uint8_t *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = src[i];
		if (c > 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

static void ref_num(char *s, size_t *o, unsigned v, int *first)
{
	*o += (size_t)sprintf(s + *o, *first ? "%u" : "-%u", v);
	*first = 0;
}

static void expect_hello(const struct hspec *h, struct hexpect *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t o = 0, l;
	int first = 1, has_v = 0, has_sni = 0, has_g = 0, has_f = 0, has_alpn = 0;
	memset(e, 0, sizeof *e);
	ref_num(e->ja3_full, &o, h->version, &first);
	e->ja3_full[o++] = ',';
	first = 1;
	for (size_t i = 0; i < h->nc; i++)
		if (!grease16(h->ciphers[i]))
			ref_num(e->ja3_full, &o, h->ciphers[i], &first);
	e->ja3_full[o++] = ',';
	first = 1;
	for (size_t i = 0; i < h->ne; i++) {
		if (!grease16(h->exts[i]))
			ref_num(e->ja3_full, &o, h->exts[i], &first);
		has_v |= h->exts[i] == 43;
		has_sni |= h->exts[i] == 0;
		has_g |= h->exts[i] == 10;
		has_f |= h->exts[i] == 11;
		has_alpn |= h->exts[i] == 16;
	}
	e->ja3_full[o++] = ',';
	first = 1;
	for (size_t i = 0; has_g && i < h->ng; i++)
		if (!grease16(h->groups[i]))
			ref_num(e->ja3_full, &o, h->groups[i], &first);
	e->ja3_full[o++] = ',';
	first = 1;
	for (size_t i = 0; has_f && i < h->nf; i++)
		ref_num(e->ja3_full, &o, h->formats[i], &first);
	e->ja3_full[o] = '\0';
	l = o < sizeof e->ja3_str - 1 ? o : sizeof e->ja3_str - 1;
	memcpy(e->ja3_str, e->ja3_full, l);
	if (EVP_Digest(e->ja3_full, o, md, &mdlen, EVP_md5(), NULL) == 1 && mdlen == 16) {
		for (unsigned i = 0; i < 16; i++) {
			e->ja3[2 * i] = hex[md[i] >> 4];
			e->ja3[2 * i + 1] = hex[md[i] & 15];
		}
	}
	if (has_sni) {
		ref_printable(e->sni, sizeof e->sni, h->sni, h->sni_n);
		pi_lower(e->sni);
	}
	for (size_t i = 0; has_alpn && i < h->nalpn; i++) {
		size_t a = strlen(e->alpn);
		if (a && a + 1 < sizeof e->alpn)
			e->alpn[a++] = ',';
		if (a + 1 < sizeof e->alpn)
			ref_printable(e->alpn + a, sizeof e->alpn - a, (const uint8_t *)h->alpn[i],
			              strlen(h->alpn[i]));
	}
	e->max_version = h->version;
	if (has_v) {
		unsigned max = 0;
		for (size_t i = 0; i < h->nv; i++)
			if (!grease16(h->versions[i]) && h->versions[i] > max)
				max = h->versions[i];
		if (max)
			e->max_version = (uint16_t)max;
	}
}

/* Feed the hello into a fresh state; 1 if every field is as expected. */
static int hello_matches(struct rec *r, const struct hspec *h, const char *ja3, int verbose)
{
	static struct buf b;
	static struct hexpect e;
	int ok;
	build_hello(&b, h);
	expect_hello(h, &e);
	tls_free(&r->st);
	r->n = 0;
	tls_init(&r->st, rec_cb, r, &r->caps);
	feed(r, TLS_DIR_C2S, bv(&b), 1);
	ok = r->n == 1 && r->ev[0].type == TLS_EV_CLIENT_HELLO &&
	     strcmp(r->st.ch.ja3, e.ja3) == 0 && strcmp(r->st.ch.ja3_str, e.ja3_str) == 0 &&
	     strcmp(r->st.ch.sni, e.sni) == 0 && strcmp(r->st.ch.alpn, e.alpn) == 0 &&
	     r->st.ch.max_version == e.max_version && (!ja3 || strcmp(r->st.ch.ja3, ja3) == 0);
	if (!ok && verbose) {
		fprintf(stderr, "hello: events %d ja3 %s (want %s%s%s)\n  str %s\n  want %s\n  sni \"%s\" want \"%s\" alpn \"%s\" want \"%s\"\n",
		        r->n, r->st.ch.ja3, e.ja3, ja3 ? ", literal " : "", ja3 ? ja3 : "",
		        r->st.ch.ja3_str, e.ja3_str, r->st.ch.sni, e.sni, r->st.ch.alpn, e.alpn);
	}
	return ok;
}

#define JA3_H1 "858e0abaccf1affc675c60428da4f954"
#define JA3_H1_LAST_CIPHER "906c701979a3961e0a2c4c2b02ae85bb"
#define JA3_SHORT "22d728a1836d689735a470670e5f9b70"

/* A Chrome-like hello with GREASE in every list, 100 ciphers (the JA3
 * string is longer than ja3_str), then hellos that differ from it in one
 * place each, fed after it (memo hits): none may get a stale JA3. The
 * literal MD5s are of the full strings (Python hashlib). */
static void test_ja3_memo(void)
{
	static struct hspec h1, h;
	struct rec *r = rec_new();
	static const uint16_t exts[] = { 0x2a2a, 0, 23, 65281, 10, 11, 35, 16, 5, 13, 18, 51, 45, 43, 27, 17513, 0x3a3a };
	memset(&h1, 0, sizeof h1);
	h1.version = 0x0303;
	h1.ciphers[h1.nc++] = 0x1a1a;
	for (unsigned i = 0; i < 100; i++) {
		h1.ciphers[h1.nc++] = (uint16_t)(0xc000 + 7 * i);
		if (i == 50)
			h1.ciphers[h1.nc++] = 0x0a0a;
	}
	memcpy(h1.exts, exts, sizeof exts);
	h1.ne = sizeof exts / sizeof exts[0];
	h1.groups[0] = 0x4a4a;
	h1.groups[1] = 29;
	h1.groups[2] = 23;
	h1.groups[3] = 24;
	h1.ng = 4;
	h1.formats[0] = 0;
	h1.nf = 1;
	h1.versions[0] = 0x5a5a;
	h1.versions[1] = 0x0304;
	h1.versions[2] = 0x0303;
	h1.nv = 3;
	memcpy(h1.sni, "WWW.Example.COM", 15);
	h1.sni_n = 15;
	h1.alpn[0] = "h2";
	h1.alpn[1] = "http/1.1";
	h1.nalpn = 2;

	CHECK(hello_matches(r, &h1, JA3_H1, 1));
	CHECK_EQ_STR(r->st.ch.sni, "www.example.com");
	CHECK_EQ_INT(r->st.ch.max_version, 0x0304);
	CHECK_EQ_INT(strlen(r->st.ch.ja3_str), 511);
	CHECK(strncmp(r->st.ch.ja3_str, "771,49152-49159-49166-", 22) == 0);
	/* the same again (a memo hit), then other GREASE values and another
	 * SNI: the same JA3, the new SNI */
	CHECK(hello_matches(r, &h1, JA3_H1, 1));
	h = h1;
	h.ciphers[0] = 0xdada;
	h.ciphers[52] = 0x7a7a;
	h.exts[0] = 0x9a9a;
	h.exts[h.ne - 1] = 0xeaea;
	h.groups[0] = 0x0a0a;
	memcpy(h.sni, "other.example\xff", 14);
	h.sni_n = 14;
	CHECK(hello_matches(r, &h, JA3_H1, 1));
	CHECK_EQ_STR(r->st.ch.sni, "other.example\\xff");
	/* the last cipher differs: past the end of ja3_str, only the MD5 tells */
	h = h1;
	h.ciphers[h.nc - 1] ^= 1;
	CHECK(hello_matches(r, &h, JA3_H1_LAST_CIPHER, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	/* a GREASE cipher made an ordinary one */
	h = h1;
	h.ciphers[52] = 0x0a0b;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	/* the last cipher moved to the front of the extensions (same bytes
	 * in a row, another field boundary) */
	h = h1;
	h.nc--;
	memmove(h.exts + 1, h.exts, h.ne * sizeof h.exts[0]);
	h.exts[0] = h1.ciphers[h1.nc - 1];
	h.ne++;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	/* groups, point formats, extension order, version */
	h = h1;
	h.groups[3] = 25;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	h = h1;
	h.formats[1] = 1;
	h.nf = 2;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	h = h1;
	h.exts[2] = 65281;
	h.exts[3] = 23;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	h = h1;
	h.version = 0x0302;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	/* a GREASE value where the first has an ordinary one */
	h = h1;
	h.ciphers[5] = 0x6a6a;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	h = h1;
	h.exts[2] = 0x1a1a;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK(strcmp(r->st.ch.ja3, JA3_H1) != 0);
	/* and the first one still */
	CHECK(hello_matches(r, &h1, JA3_H1, 1));
	/* extension types running into the groups: types 10, 2 and no group,
	 * then type 10 and group 0 (their wire values in a row are alike) */
	memset(&h, 0, sizeof h);
	h.version = 0x0303;
	h.ciphers[0] = 0x1301;
	h.nc = 1;
	h.exts[0] = 10;
	h.exts[1] = 2;
	h.ne = 2;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK_EQ_STR(r->st.ch.ja3_str, "771,4865,10-2,,");
	h.ne = 1;
	h.ng = 1;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK_EQ_STR(r->st.ch.ja3_str, "771,4865,10,0,");
	/* a short one with a known JA3 (the string whole in ja3_str) */
	memset(&h, 0, sizeof h);
	h.version = 0x0303;
	h.ciphers[0] = 0x2a2a;
	h.ciphers[1] = 0x1301;
	h.ciphers[2] = 0xc02b;
	h.nc = 3;
	h.exts[0] = 0xfafa;
	h.exts[1] = 0;
	h.exts[2] = 10;
	h.exts[3] = 11;
	h.ne = 4;
	h.groups[0] = 0x8a8a;
	h.groups[1] = 29;
	h.ng = 2;
	h.nf = 1;
	memcpy(h.sni, "a", 1);
	h.sni_n = 1;
	CHECK(hello_matches(r, &h, NULL, 1));
	CHECK_EQ_STR(r->st.ch.ja3_str, "771,4865-49195,0-10-11,29,0");
	CHECK_EQ_STR(r->st.ch.ja3, JA3_SHORT);
	rec_free(r);
}

/* Random hellos (hostile SNI bytes, GREASE anywhere, up to 300 ciphers),
 * drawn from a few bases with small changes so the memo hits and misses in
 * turn: every field as the reference computes it. */
static void test_ja3_random(void)
{
	static struct hspec base[6], h;
	static const uint8_t alphabet[] = { 0x00, 0x09, 0x20, 0x21, '-', '.', '0', '9', 'A', 'M', 'Z',
	                                    '[', '\\', '`', 'a', 'z', '~', 0x7f, 0x80, 0xc3, 0xff };
	static const uint16_t ext_pool[] = { 0, 10, 11, 16, 43, 23, 35, 13, 51, 45, 5, 18, 65281,
	                                     0xfe0d, 21, 27 };
	static const char *const alpns[] = { "h2", "http/1.1", "", "a\\b c", "spdy/3", "a-long-protocol-name-cut-off" };
	struct rec *r = rec_new();
	int bad = 0;
	lcg_state = 777;
	for (int b = 0; b < 6; b++) {
		struct hspec *s = &base[b];
		int used[65536 / 16] = { 0 };
		memset(s, 0, sizeof *s);
		s->version = (uint16_t)(0x0300 + lcg() % 5);
		s->nc = b == 5 ? 300 : 1 + lcg() % 60;
		for (size_t i = 0; i < s->nc; i++)
			s->ciphers[i] = (uint16_t)(lcg() % 7 == 0 ? grease_draw() : lcg() & 0xffff);
		s->ne = lcg() % 20;
		for (size_t i = 0; i < s->ne; i++) {
			unsigned t = lcg() % 5 == 0 ? grease_draw() : ext_pool[lcg() % (sizeof ext_pool / 2)];
			if (t < 44 && used[t]++ && (t == 0 || t == 10 || t == 11 || t == 16 || t == 43))
				t = 0x3333 + (unsigned)i;
			s->exts[i] = (uint16_t)t;
		}
		s->ng = lcg() % 10;
		for (size_t i = 0; i < s->ng; i++)
			s->groups[i] = (uint16_t)(lcg() % 4 == 0 ? grease_draw() : lcg() % 40);
		s->nf = lcg() % 4;
		for (size_t i = 0; i < s->nf; i++)
			s->formats[i] = (uint8_t)(lcg() % 3);
		s->nv = lcg() % 4;
		for (size_t i = 0; i < s->nv; i++)
			s->versions[i] = (uint16_t)(lcg() % 3 == 0 ? grease_draw() : 0x0300 + lcg() % 6);
		s->nalpn = lcg() % 4;
		for (size_t i = 0; i < s->nalpn; i++)
			s->alpn[i] = alpns[lcg() % 6];
		s->ext_body_n = lcg() % 6;
		for (size_t i = 0; i < s->ext_body_n; i++)
			s->ext_body[i] = (uint8_t)lcg();
	}
	for (int it = 0; it < 3000; it++) {
		unsigned k = lcg() % 8;
		h = base[lcg() % 6];
		if (k == 0 && h.nc) { /* redraw one cipher */
			h.ciphers[lcg() % h.nc] = (uint16_t)(lcg() % 2 ? grease_draw() : lcg());
		} else if (k == 1) { /* other GREASE values in the extension types */
			for (size_t i = 0; i < h.ne; i++)
				if (grease16(h.exts[i]))
					h.exts[i] = (uint16_t)grease_draw();
		} else if (k == 2 && h.ng) {
			h.groups[lcg() % h.ng] = (uint16_t)(lcg() % 2 ? grease_draw() : lcg() % 40);
		} else if (k == 3 && h.nf) {
			h.formats[lcg() % h.nf] ^= 1;
		}
		/* the SNI: letters mostly (either case), sometimes any byte of the
		 * alphabet, sometimes longer than sni can hold */
		h.sni_n = lcg() % 4 == 0 ? lcg() % 300 : lcg() % 40;
		for (size_t i = 0; i < h.sni_n; i++) {
			if (lcg() % 3)
				h.sni[i] = (uint8_t)((lcg() % 4 ? 'a' : 'A') + lcg() % 26);
			else
				h.sni[i] = alphabet[lcg() % sizeof alphabet];
		}
		if (!hello_matches(r, &h, NULL, bad < 5))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	rec_free(r);
}

/* The memo key writes GREASE values 0x0a0a eight bytes at a time (the last
 * word overlapping the one before it) and lists under eight bytes value by
 * value. Lists of every length up to 20 values (0 to 40 bytes: each
 * boundary of the word loop), with GREASE and values one nibble or one
 * byte away from GREASE in every place, in the ciphers and the groups:
 * GREASE first, so a key that took a near value for GREASE would hit the
 * GREASE hello's memo entry and give a stale JA3. Then random lists of the
 * same values (neighbouring lanes of every kind). */
static void test_ja3_grease_lanes(void)
{
	static const uint16_t vals[] = { 0x0a0a, 0x1a1a, 0xfafa, 0xaaaa, 0x1a2a, 0x2a1a, 0x0a1a,
	                                 0x1a0a, 0x0a0b, 0x0b0a, 0x1b1b, 0x0aa0, 0xa0a0, 0x000a,
	                                 0x0a00, 0x0000, 0xffff, 0xfaf9, 0x8a8a, 0x7a7b, 0x1b1a,
	                                 0x1a1b, 0x2b2a, 0x3a2a };
	const size_t nv = sizeof vals / sizeof vals[0];
	static struct hspec h;
	struct rec *r = rec_new();
	int bad = 0;
	for (int list = 0; list < 2; list++) {
		for (size_t n = 0; n <= 20; n++) {
			for (size_t p = 0; p < (n ? n : 1); p++) {
				for (size_t v = 0; v < nv; v++) {
					memset(&h, 0, sizeof h);
					h.version = 0x0303;
					h.nc = n;
					h.ng = n;
					for (size_t i = 0; i < n; i++) {
						h.ciphers[i] = (uint16_t)(0x1301 + i);
						h.groups[i] = (uint16_t)(0x0017 + i);
					}
					if (n)
						(list ? h.groups : h.ciphers)[p] = vals[v];
					h.exts[h.ne++] = 10;
					h.exts[h.ne++] = 11;
					if (!hello_matches(r, &h, NULL, bad < 5))
						bad++;
				}
			}
		}
	}
	lcg_state = 4242;
	for (int it = 0; it < 4000; it++) {
		memset(&h, 0, sizeof h);
		h.version = 0x0303;
		h.nc = lcg() % 21;
		h.ng = lcg() % 21;
		for (size_t i = 0; i < h.nc; i++)
			h.ciphers[i] = lcg() % 4 ? vals[lcg() % nv] : (uint16_t)lcg();
		for (size_t i = 0; i < h.ng; i++)
			h.groups[i] = lcg() % 4 ? vals[lcg() % nv] : (uint16_t)lcg();
		h.exts[h.ne++] = 10;
		if (!hello_matches(r, &h, NULL, bad < 5))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	rec_free(r);
}

static void test_misc(void)
{
	struct vec ch = V(t12_ch_hex);
	struct tls_state st;
	/* no callback, bad direction, reuse after free */
	tls_init(&st, NULL, NULL, NULL);
	tls_feed(&st, 0, ch.p, ch.n, 1, 0);
	CHECK(st.saw_ch);
	tls_feed(&st, 2, ch.p, ch.n, 1, 0);
	tls_feed(&st, -1, ch.p, ch.n, 1, 0);
	tls_gap(&st, 5, 10);
	tls_feed(&st, 0, NULL, 0, 1, 0);
	tls_free(&st);
	tls_free(&st);
	tls_init(&st, NULL, NULL, NULL);
	CHECK(!st.saw_ch);
	tls_feed(&st, 0, ch.p, 100, 1, 0);
	CHECK(st.d[0].body != NULL);
	tls_free(&st);
	CHECK(st.d[0].body == NULL);
	free(ch.p);
	CHECK(sizeof(struct tls_dir) <= 64);
}

int main(void)
{
	test_probe();
	test_names();
	test_client_hello();
	test_grease_ech();
	test_chunking();
	test_hs_across_records();
	test_tls12_session();
	test_cert_parse_bad();
	test_alerts();
	test_tls13();
	test_hrr();
	test_hrr_sni();
	test_sslv2();
	test_sslv2_server();
	test_not_tls();
	test_malformed_records();
	test_malformed_hello();
	test_big_messages();
	test_gaps();
	test_fuzz();
	test_ja3_memo();
	test_ja3_random();
	test_ja3_grease_lanes();
	test_misc();
	UNIT_DONE();
}
